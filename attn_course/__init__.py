"""attn_course: the companion package of the course "Attention, Visualized".

Attention from scratch, organised by idea:

- softmax          stable softmax with temperature and masks
- attention        scaled dot-product attention, causal masks
- scores           score functions: dot, scaled dot, general (Luong), additive (Bahdanau), cosine
- multihead        multi-head attention with explicit projections, padding masks
- positional       sinusoidal and rotary (RoPE) position encodings
- backward         the backward pass by hand, and a finite-difference gradient check
- flash            tiled attention with the online softmax (FlashAttention's forward pass)
- efficient        sliding-window and linear attention, and their error against full attention
- history          the events of attention's history, and their timeline (chapter 1)
- viz              the course's pictures (one style for every chapter)
- widgets          live explorers built from ipywidgets sliders
- data, sequences  toy data whose right answer (and alignment) is known
- exercises        checkers that say what is wrong with a learner's answer

These import torch, so they are imported by name (`from attn_course import nn`); `import attn_course`
alone never imports torch:

- nn               the same attention in PyTorch, as modules, on CPU or GPU
- models           the tiny models of chapter 6 (seq2seq, sentiment, ViT, speech), trained in seconds
- transformer      an encoder-decoder Transformer and a tiny causal language model (chapter 6b, 6c)
- kv_cache         decoding with a KV cache, its FLOPs and memory, grouped-query attention (chapter 6e)
- hooks            recording the attention weights of a PyTorch model with forward hooks
- triton_attention a FlashAttention-style GPU kernel in Triton, testable on the CPU (chapter 8b)
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
