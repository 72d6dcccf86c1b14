"""attn_course: the companion package of the course "Attention, Visualized".

Attention from scratch, organised by idea:

- softmax      stable softmax with temperature and masks
- attention    scaled dot-product attention, causal masks
- viz          the course's pictures (one style for every chapter)
- widgets      live explorers built from ipywidgets sliders
- exercises    checkers that say what is wrong with a learner's answer
"""
from .attention import causal_mask, scaled_dot_product_attention
from .softmax import softmax

__version__ = "0.1.0"
__all__ = ["softmax", "scaled_dot_product_attention", "causal_mask"]
