"""Score functions: how well does a query match a key?

Attention only needs a number per (query, key) pair; the softmax turns each row of numbers into weights.
The classic choices, each written for whole matrices of queries q: (..., n_q, d_q) and keys
k: (..., n_k, d_k), each returning scores of shape (..., n_q, n_k):

    dot          q · k                     Luong, Pham & Manning, "Effective Approaches to Attention-based
    general      q W k^T  (bilinear)         Neural Machine Translation", EMNLP 2015 (eq. 8)
    additive     v^T tanh(W_q q + W_k k)   Bahdanau, Cho & Bengio, "Neural Machine Translation by Jointly
                                             Learning to Align and Translate", ICLR 2015 (appendix A.1.2)
    scaled dot   q · k / sqrt(d_k)         Vaswani et al., "Attention Is All You Need", NIPS 2017
    cosine       q · k / (|q| |k|)         Graves, Wayne & Danihelka, "Neural Turing Machines", arXiv 2014

Vectors are rows here, as in the code of every framework: `q @ W_q` is the paper's W_q q.
"""
import numpy as np

from ._checks import as_float_array, as_queries_keys, has_shape


def dot_score(q, k):
    """q · k for every pair.  q: (..., n_q, d)  k: (..., n_k, d)  ->  (..., n_q, n_k)"""
    q, k = as_queries_keys(q, k)
    return q @ np.swapaxes(k, -1, -2)


def scaled_dot_score(q, k):
    """q · k / sqrt(d): dot products of random d-dimensional vectors grow like sqrt(d); this undoes it.

    q: (..., n_q, d)  k: (..., n_k, d)  ->  (..., n_q, n_k)
    """
    q, k = as_queries_keys(q, k)
    return q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1]).astype(q.dtype)


def general_score(q, k, W):
    """The bilinear score q W k^T: a learned W lets queries and keys live in different spaces.

    q: (..., n_q, d_q)  k: (..., n_k, d_k)  W: (d_q, d_k)  ->  (..., n_q, n_k)
    """
    q = as_float_array(q, "q", min_ndim=2)
    k = as_float_array(k, "k", min_ndim=2)
    W = has_shape(as_float_array(W, "W"), "W", (q.shape[-1], k.shape[-1]), "(d_q, d_k)")
    return dot_score(q @ W, k)


def additive_score(q, k, W_q, W_k, w_v):
    """Bahdanau's score w_v^T tanh(W_q q + W_k k): a one-hidden-layer network on each (query, key) pair.

    q: (..., n_q, d_q)  k: (..., n_k, d_k)  W_q: (d_q, d_a)  W_k: (d_k, d_a)  w_v: (d_a,)  ->  (..., n_q, n_k)
    (Bahdanau et al. call the vector v; here v is always the values, so it is w_v.)
    Memory grows as n_q * n_k * d_a: every pair gets its own hidden vector.
    """
    q = as_float_array(q, "q", min_ndim=2)
    k = as_float_array(k, "k", min_ndim=2)
    W_q = as_float_array(W_q, "W_q", min_ndim=2)
    d_a = W_q.shape[-1]
    has_shape(W_q, "W_q", (q.shape[-1], d_a), "(d_q, d_a)")
    W_k = has_shape(as_float_array(W_k, "W_k"), "W_k", (k.shape[-1], d_a), "(d_k, d_a)")
    w_v = has_shape(as_float_array(w_v, "w_v"), "w_v", (d_a,), "(d_a,)")
    q_a, k_a = as_queries_keys(q @ W_q, k @ W_k)  # projections: (..., n_q, d_a), (..., n_k, d_a)
    hidden = np.tanh(q_a[..., :, None, :] + k_a[..., None, :, :])  # (..., n_q, n_k, d_a)
    return hidden @ w_v


def cosine_score(q, k, *, eps=1e-8):
    """q · k / (|q| |k|), in [-1, 1]: only directions count, lengths do not.

    q: (..., n_q, d)  k: (..., n_k, d)  ->  (..., n_q, n_k)
    eps: floor on each length, so a zero vector scores 0 instead of NaN (as torch.nn.functional.cosine_similarity).
    """
    q, k = as_queries_keys(q, k)
    q_hat = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), eps)
    k_hat = k / np.maximum(np.linalg.norm(k, axis=-1, keepdims=True), eps)
    return dot_score(q_hat, k_hat)
