"""Scaled dot-product attention, in NumPy.

    scores  = q @ k^T * scale          how well each query matches each key
    weights = softmax(scores)          one distribution over the keys per query
    output  = weights @ v              the values, averaged with those weights

Vaswani et al., "Attention Is All You Need", NIPS 2017, eq. 1 (scale = 1/sqrt(d_k)).

Masks follow torch.nn.functional.scaled_dot_product_attention: a boolean mask with True = may attend.
(torch.nn.MultiheadAttention's `attn_mask` and `key_padding_mask` use the opposite convention,
True = may NOT attend; chapter 5 shows both side by side.)
"""
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._checks import as_mask, attention_inputs
from .softmax import softmax_


def causal_mask(n_q, n_k=None):
    """(n_q, n_k) boolean mask, True on and below the diagonal: position i may attend to j <= i.

    When n_k > n_q the queries are taken to be the *last* n_q positions, as in decoding with a cache.
    (PyTorch's `is_causal=True` aligns the diagonal to the top-left instead; the two agree when n_q == n_k.)
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
    q, k, v, scale = attention_inputs(q, k, v, scale)       # arrays, or an error that names the bad argument
    scores = scaled_scores(q, k, scale)                     # (..., n_q, n_k)   q_i . k_j * scale
    allowed = allowed_keys(mask, causal, scores.shape)      # (..., n_q, n_k) bool, or None: every key
    if allowed is not None:
        np.copyto(scores, -np.inf, where=~allowed)          # exp(-inf) = 0: no weight on a masked key
    weights = softmax_rows_(scores)                         # (..., n_q, n_k)   softmax over the keys
    output = weights @ v                                    # (..., n_q, d_v)   the values, averaged
    return output, weights


def scaled_scores(q, k, scale):
    """q @ k^T * scale, (..., n_q, n_k), or a clear error where a score overflows the dtype.

    q is scaled, not the scores: n_q * d_k multiplications instead of n_q * n_k.
    |score| <= scale * d_k * max|q| * max|k|: only when that bound does not fit in the dtype can a score
    overflow to inf (and the softmax turn it into NaN), and only then is a pass over all of them needed.
    """
    with np.errstate(over="ignore"):  # an overflow is reported just below, with a better message
        scores = (q * scale) @ np.swapaxes(k, -1, -2)
    dtype, d_k = scores.dtype, q.shape[-1]
    bound = float(scale) * d_k * float(np.abs(q).max(initial=0)) * float(np.abs(k).max(initial=0))
    if bound >= np.finfo(dtype).max and not np.isfinite(scores).all():
        raise ValueError(f"the scores q @ k^T * scale overflow {dtype}: max |q| = {np.abs(q).max():.3g}, "
                         f"max |k| = {np.abs(k).max():.3g}; expected inputs whose products fit in {dtype}")
    return scores


def allowed_keys(mask, causal, shape):
    """The keys each query may attend to, (..., n_q, n_k) bool: `mask` (checked) and, if `causal`, the causal
    mask; None when every key is allowed (no array is made, and none is applied)."""
    allowed = None if mask is None else as_mask(mask, "mask", shape)
    if causal:
        c = causal_mask(shape[-2], shape[-1])
        allowed = c if allowed is None else allowed & c
    return allowed


BLOCK_BYTES = 2 * 2**20  # rows of scores per task: a few MiB, small enough to stay in the CPU's cache


def softmax_rows_(scores):
    """softmax_ along the last axis of the contiguous array `scores`, in place, by blocks of rows in parallel.

    Only for speed, and only because of the n_q x n_k matrix: NumPy's exp runs on one core and would
    take most of attention's time. Rows are independent, NumPy releases the GIL inside its loops, and
    a block that stays in cache is read from memory once rather than once per pass (max, subtract,
    exp, sum, divide). The result is the same as softmax_(scores), bit for bit.
    """
    per_block = max(1, BLOCK_BYTES // max(1, scores.shape[-1] * scores.itemsize))
    if scores.size <= per_block * scores.shape[-1]:  # one block (or none: no keys, no queries)
        return softmax_(scores)
    rows = scores.reshape(-1, scores.shape[-1])  # a view, so the blocks write into scores
    # A pool per call, not one per process: a thread pool does not survive os.fork (multiprocessing).
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for _ in pool.map(softmax_, [rows[i:i + per_block] for i in range(0, len(rows), per_block)]):
            pass  # iterating re-raises any error from a thread
    return scores
