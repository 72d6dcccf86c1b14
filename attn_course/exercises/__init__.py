"""Checkers for the exercises: they run a learner's function on small cases and say *what* is wrong.

Each checker targets the mistakes people really make (a shape, a normalisation over the wrong axis, a
missing sqrt(d_k), an overflowing softmax, a mask ignored) and reports the first one it finds as a
`Feedback`. One module per topic; every checker is importable from here.
"""
from .attention import check_attention
from .feedback import Feedback
from .concepts import check_cross_attention, check_path_lengths, check_soft_lookup
from .applications import check_alignment_accuracy, check_attention_pooling, check_rollout
