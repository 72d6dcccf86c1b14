"""attn_course: the companion package of the course "Attention, Visualized".

Attention from scratch, organised by idea, one module per idea:

- softmax          stable softmax with temperature and masks
- attention        scaled dot-product attention, causal masks
- scores           score functions: dot, scaled dot, general (Luong), additive (Bahdanau), cosine
- multihead        multi-head attention with explicit projections, padding masks
- positional       sinusoidal and rotary (RoPE) position encodings
- backward         the backward pass by hand, and a finite-difference gradient check
- flash            tiled attention with the online softmax (FlashAttention's forward pass)
- efficient        sliding-window and linear attention, and their error against full attention
- history          the events of attention's history (chapter 1)
- data, sequences  toy data whose right answer (and alignment) is known
- readout          what a trained model's outputs and attention say: rollout, alignment accuracy,
                   induction scores, perplexity baselines (NumPy only, no torch)
- viz              every picture of the course, in one style (a package: attention, the applications,
                   the benchmark, the timeline)
- widgets          live explorers built from ipywidgets sliders, each an `Explorer`
- exercises        checkers that say what is wrong with a learner's answer

These import torch, so they are imported by name (`from attn_course import nn`); `import attn_course`
alone never imports torch, and none of them imports ipywidgets:

- nn               the same attention in PyTorch, as modules, on CPU or GPU
- models           the tiny models of chapter 6 (seq2seq, sentiment, ViT, speech), as nn.Modules
- transformer      an encoder-decoder Transformer and a tiny causal language model (chapters 6b, 6c)
- training         one deterministic training loop for all of them, their recipes and shipped weights
- evaluation       the trained models run on held-out data, returning NumPy arrays for readout and viz
- kv_cache         decoding with a KV cache, its FLOPs and memory, grouped-query attention (chapter 6e)
- hooks            recording the attention weights of a PyTorch model with forward hooks
- triton_attention a FlashAttention-style GPU kernel in Triton, testable on the CPU (chapter 8b)

Shapes, in every docstring and comment (`q: (..., n_q, d_k)`):

    ...          leading (batch) dimensions, broadcast between arguments; B where a model fixes one
    n_q, n_k     the number of queries and of keys (= values); n when they are one sequence
    d_k, d_v     the width of a query or key, and of a value; d_model of a token's representation
    h, d_head    the number of heads, and the width of one (d_model / h)
    L            the number of layers;  T, S  a target and a source length;  V  a vocabulary's size

Masks are boolean and True means MAY attend, in NumPy and in PyTorch alike (as torch's
scaled_dot_product_attention; torch.nn.MultiheadAttention's masks mean the opposite); `causal=True`
adds the causal mask, and a query that may attend to no key gets zero weights and a zero output.
Bad input raises TypeError for a wrong type and ValueError for a wrong value, naming the argument.
"""
from .attention import causal_mask, scaled_dot_product_attention
from .backward import (gradient_check, multi_head_attention_backward, numerical_gradient,
                       scaled_dot_product_attention_backward, softmax_backward)
from .multihead import MultiHeadParams, init_params, merge_heads, multi_head_attention, padding_mask, split_heads
from .positional import rotary_embedding, sinusoidal_encoding
from .scores import additive_score, cosine_score, dot_score, general_score, scaled_dot_score
from .softmax import softmax

__version__ = "0.2.0"  # the one definition: pyproject.toml and every chapter's install cell read it
__all__ = ["softmax", "scaled_dot_product_attention", "causal_mask",
           "dot_score", "scaled_dot_score", "general_score", "additive_score", "cosine_score",
           "MultiHeadParams", "init_params", "multi_head_attention", "split_heads", "merge_heads", "padding_mask",
           "sinusoidal_encoding", "rotary_embedding",
           "softmax_backward", "scaled_dot_product_attention_backward", "multi_head_attention_backward",
           "numerical_gradient", "gradient_check"]
