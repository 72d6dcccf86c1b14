"""Scaled dot-product attention (Vaswani et al., 2017, eq. 1), in NumPy.

    scores  = q @ k^T * scale          how well each query matches each key
    weights = softmax(scores)          one distribution over the keys per query
    output  = weights @ v              the values, averaged with those weights

Masks follow torch.nn.functional.scaled_dot_product_attention: a boolean mask with True = may attend.
(torch.nn.MultiheadAttention's `attn_mask` and `key_padding_mask` use the opposite convention,
True = may NOT attend; chapter 5 shows both side by side.)
"""
import numpy as np

from ._checks import as_float_array, as_mask
from .softmax import softmax


def causal_mask(n_q, n_k=None):
    """(n_q, n_k) boolean mask, True on and below the diagonal: position i may attend to j <= i.

    When n_k > n_q the queries are taken to be the *last* n_q positions, as in decoding with a cache.
    """
    n_k = n_q if n_k is None else n_k
    return np.tril(np.ones((n_q, n_k), dtype=bool), k=n_k - n_q)


def scaled_dot_product_attention(q, k, v, *, mask=None, causal=False, scale=None):
    """Attention of every query over every key; returns (output, weights).

    q: (..., n_q, d_k)  k: (..., n_k, d_k)  v: (..., n_k, d_v)  leading dimensions broadcast.
    mask: bool, broadcastable to (..., n_q, n_k), True = may attend. causal: also apply causal_mask.
    scale: multiplies the scores; default 1/sqrt(d_k), which keeps their variance near 1 (chapter 4).
    output: (..., n_q, d_v)  weights: (..., n_q, n_k), each row a distribution over the keys, or all
    zeros for a query that may attend to no key (its output is then zero too, never NaN).
    """
    q = as_float_array(q, "q", min_ndim=2)
    k = as_float_array(k, "k", min_ndim=2)
    v = as_float_array(v, "v", min_ndim=2)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must share the last dimension d_k: q has shape {q.shape} "
                         f"(d_k={q.shape[-1]}), k has shape {k.shape} (d_k={k.shape[-1]})")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have one value per key: k has {k.shape[-2]} keys (shape {k.shape}), "
                         f"v has {v.shape[-2]} values (shape {v.shape})")
    try:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(f"leading (batch) dimensions of q {q.shape[:-2]}, k {k.shape[:-2]} and "
                         f"v {v.shape[:-2]} do not broadcast") from None
    dtype = np.result_type(q, k, v)
    n_q, n_k, d_k = q.shape[-2], k.shape[-2], q.shape[-1]
    scale = 1.0 / np.sqrt(d_k) if scale is None else float(scale)

    allowed = None
    if mask is not None:
        allowed = as_mask(mask, "mask", (*batch, n_q, n_k))
    if causal:
        allowed = causal_mask(n_q, n_k) if allowed is None else allowed & causal_mask(n_q, n_k)

    scores = (q @ np.swapaxes(k, -1, -2)) * dtype.type(scale)  # (..., n_q, n_k)
    weights = softmax(scores, axis=-1, mask=allowed).astype(dtype, copy=False)
    output = weights @ v  # (..., n_q, d_v)
    return output, weights
