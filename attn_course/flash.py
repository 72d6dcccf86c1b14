"""Tiled attention with the online softmax: FlashAttention's forward pass, in NumPy.

Plain attention builds the whole (n_q, n_k) matrix of scores, so its memory grows as n². It does not
have to: a softmax-weighted sum can be accumulated one block of keys at a time if, for each query, we
keep three running quantities (Milakov & Gimelshein, "Online normalizer calculation for softmax",
arXiv 2018; Dao et al., "FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness",
NeurIPS 2022):

    m    the largest score seen so far          (subtracted before exp, as in a stable softmax)
    l    sum_j exp(s_j - m) over keys seen so far  (the softmax's denominator)
    acc  sum_j exp(s_j - m) v_j                     (the numerator of the weighted sum)

When a new block raises the maximum from m to m_new, everything accumulated so far was computed with
the old maximum; multiplying by exp(m - m_new) rescales it exactly. At the end, output = acc / l.
The result equals plain attention up to rounding; the memory held at once is one (block, block) tile
per worker thread.

Blocks of queries are independent of each other, so they run in parallel, one per CPU core, as
FlashAttention runs them on a GPU's cores; inside a block the matrix products use one BLAS thread
(a (block, block) tile is too small to be worth splitting between cores again).
"""
import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._checks import attention_inputs, positive_int


def tiled_attention(q, k, v, *, causal=False, scale=None, block_size=256):
    """Exact scaled dot-product attention, one (block_size, block_size) tile of scores at a time.

    q: (..., n_q, d_k)  k: (..., n_k, d_k)  v: (..., n_k, d_v)  ->  output: (..., n_q, d_v)
    causal: query i may attend to key j <= i + (n_k - n_q), as attn_course.causal_mask.
    A query with no key to attend to gets a zero output, as in attn_course.scaled_dot_product_attention.
    """
    q, k, v, scale = attention_inputs(q, k, v, scale)  # the checks of every attention in this package
    block_size = positive_int(block_size, "block_size")
    dtype = scale.dtype
    n_q = q.shape[-2]
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    out = np.zeros((*batch, n_q, v.shape[-1]), dtype=dtype)

    def one_block(i0):
        out[..., i0:i0 + block_size, :] = query_block(q[..., i0:i0 + block_size, :], k, v, scale=scale,
                                                      block_size=block_size, causal=causal,
                                                      first_query=i0, n_q=n_q, dtype=dtype)

    starts = range(0, n_q, block_size)
    with _one_blas_thread():
        if len(starts) == 1:
            one_block(0)
        else:  # a pool per call, as in attention.softmax_rows_: a thread pool does not survive os.fork
            with ThreadPoolExecutor(max_workers=min(len(starts), os.cpu_count() or 1)) as pool:
                for _ in pool.map(one_block, starts):
                    pass  # iterating re-raises any error from a thread
    return out


def query_block(qi, k, v, *, scale, block_size, causal=False, first_query=0, n_q=None, dtype=None):
    """The output rows of one block of queries, computed one block of keys at a time (online softmax).

    qi: (..., b_q, d_k) queries first_query .. first_query + b_q - 1 of n_q;  k: (..., n_k, d_k);
    v: (..., n_k, d_v)  ->  (..., b_q, d_v). No input checks: tiled_attention has made them.
    """
    dtype = np.result_type(qi, k, v) if dtype is None else dtype
    n_q = qi.shape[-2] if n_q is None else n_q
    n_k = k.shape[-2]
    offset = n_k - n_q  # causal: query i sees keys up to i + offset
    qi = qi * scale                                      # (..., b_q, d_k), scaled once per block
    batch, b_q = qi.shape[:-2], qi.shape[-2]
    m = np.full((*batch, b_q, 1), -np.inf, dtype=dtype)  # running max
    l = np.zeros((*batch, b_q, 1), dtype=dtype)          # running denominator
    acc = np.zeros((*batch, b_q, v.shape[-1]), dtype=dtype)  # running numerator
    # Causal: key blocks that start after the last query's last visible key hold nothing to see.
    k_end = min(n_k, first_query + b_q + offset) if causal else n_k
    for j0 in range(0, max(k_end, 0), block_size):
        s = qi @ np.swapaxes(k[..., j0:j0 + block_size, :], -1, -2)  # (..., b_q, b_k), a new array
        if causal and j0 + s.shape[-1] - 1 > first_query + offset:  # this tile crosses the diagonal
            rows = np.arange(first_query, first_query + b_q)[:, None] + offset
            cols = np.arange(j0, j0 + s.shape[-1])[None, :]
            s = np.where(cols <= rows, s, -np.inf)
        m_new = np.maximum(m, s.max(axis=-1, keepdims=True))
        # A row that has seen only masked keys keeps m_new = -inf; exponents there are taken
        # against 0 so they give exp(-inf) = 0 instead of exp(nan).
        safe = np.where(np.isfinite(m_new), m_new, 0)
        p = np.exp(np.subtract(s, safe, out=s), out=s)  # (..., b_q, b_k), in place: no second tile
        alpha = np.exp(m - safe)                 # rescales what was accumulated under the old max
        l = alpha * l + p.sum(axis=-1, keepdims=True)
        acc = alpha * acc + p @ v[..., j0:j0 + block_size, :]
        m = m_new
    return np.divide(acc, l, out=np.zeros_like(acc), where=l > 0)


_BLAS = None


def _one_blas_thread():
    """A context in which NumPy's BLAS uses one thread (threadpoolctl, which scikit-learn brings);
    a no-op when threadpoolctl is missing. Threads that each ask a multi-threaded BLAS for small
    products spend more time waiting for each other than multiplying."""
    global _BLAS
    try:
        if _BLAS is None:
            from threadpoolctl import ThreadpoolController
            _BLAS = ThreadpoolController()
        return _BLAS.limit(limits=1, user_api="blas")
    except ImportError:
        return contextlib.nullcontext()
