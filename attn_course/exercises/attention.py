"""Checkers for the exercises on the attention algorithm (chapter 3)."""
import numpy as np

from ..attention import scaled_dot_product_attention
from ..softmax import softmax
from .feedback import Feedback


def _case(seed, n_q=3, n_k=5, d_k=4, d_v=2):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n_q, d_k)), rng.standard_normal((n_k, d_k)), rng.standard_normal((n_k, d_v)))


def check_attention(fn):
    """Check `fn(q, k, v) -> (output, weights)`, scaled dot-product attention for 2-D arrays.

    q: (n_q, d_k)  k: (n_k, d_k)  v: (n_k, d_v)  ->  output: (n_q, d_v)  weights: (n_q, n_k)
    """
    q, k, v = _case(0)
    n_q, n_k, d_k, d_v = q.shape[0], k.shape[0], q.shape[1], v.shape[1]
    try:
        result = fn(q, k, v)
    except Exception as e:  # the learner's bug, reported as feedback rather than a traceback
        return Feedback(False, f"calling your function raised {type(e).__name__}: {e}")
    if not (isinstance(result, tuple) and len(result) == 2):
        return Feedback(False, f"expected a pair (output, weights), got {type(result).__name__}")
    output, weights = (np.asarray(r, dtype=np.float64) for r in result)

    if weights.shape != (n_q, n_k):
        hint = " (did you compute k @ q.T instead of q @ k.T?)" if weights.shape == (n_k, n_q) else ""
        return Feedback(False, f"weights has shape {weights.shape}, expected (n_q, n_k) = {(n_q, n_k)}: "
                               f"one row per query, one column per key{hint}")
    if output.shape != (n_q, d_v):
        return Feedback(False, f"output has shape {output.shape}, expected (n_q, d_v) = {(n_q, d_v)}: "
                               "one value-sized vector per query")
    if not np.all(np.isfinite(weights)):
        return Feedback(False, "weights contain NaN or inf on ordinary inputs")

    row_sums = weights.sum(axis=-1)
    if not np.allclose(row_sums, 1.0, atol=1e-6) or (weights < 0).any():
        if np.allclose(weights.sum(axis=0), 1.0, atol=1e-6):
            return Feedback(False, "each column of weights sums to 1, but each ROW must: "
                                   "normalise over the keys, softmax(..., axis=-1)")
        return Feedback(False, f"each row of weights must be a distribution over the keys (non-negative, "
                               f"summing to 1); the row sums are {np.round(row_sums, 4).tolist()}")

    raw = q @ k.T
    expected = softmax(raw / np.sqrt(d_k))
    if not np.allclose(weights, expected, atol=1e-6):
        if np.allclose(weights, softmax(raw), atol=1e-6):
            return Feedback(False, f"the scores are not scaled: divide q @ k.T by sqrt(d_k) = {np.sqrt(d_k):g} "
                                   "before the softmax")
        if np.allclose(weights, softmax(raw / d_k), atol=1e-6):
            return Feedback(False, f"the scores are divided by d_k = {d_k}; divide by sqrt(d_k) = {np.sqrt(d_k):g}")
        if np.allclose(weights, softmax(expected), atol=1e-6):
            return Feedback(False, "softmax is applied twice: the weights are the softmax of the scaled scores, once")
        return Feedback(False, "weights differ from softmax(q @ k.T / sqrt(d_k)) along each row")

    if not np.allclose(output, weights @ v, atol=1e-6):
        if v.shape == k.shape[:1] + (d_v,) and np.allclose(output, weights @ k[:, :d_v], atol=1e-6):
            return Feedback(False, "output mixes the keys; it must be the weighted sum of the VALUES, weights @ v")
        return Feedback(False, "output is not the weighted sum of the values, weights @ v")

    # Large but harmless scores: a softmax that exponentiates without subtracting the max overflows.
    big = 1000.0 * q  # scores in the thousands: exp overflows float64 past ~709
    try:
        with np.errstate(all="ignore"):
            out_big, w_big = (np.asarray(r, dtype=np.float64) for r in fn(big, k, v))
    except Exception as e:
        return Feedback(False, f"with large scores your function raised {type(e).__name__}: {e}")
    if not (np.all(np.isfinite(w_big)) and np.all(np.isfinite(out_big))):
        return Feedback(False, "with large scores (scores in the thousands) the weights overflow to NaN/inf: "
                               "subtract each row's maximum score before exp (softmax is shift invariant)")
    reference, _ = scaled_dot_product_attention(big, k, v)
    if not np.allclose(out_big, reference, atol=1e-6):
        return Feedback(False, "with large scores the output is wrong, though finite: check the softmax's stability")

    # Batches: leading dimensions must pass through (q @ k.T breaks on 3-D arrays; swapaxes does not).
    qb, kb, vb = (np.stack([a, a[::-1]]) for a in _case(1))
    try:
        out_b, w_b = (np.asarray(r, dtype=np.float64) for r in fn(qb, kb, vb))
        ok = out_b.shape == (2, n_q, d_v) and np.allclose(out_b, scaled_dot_product_attention(qb, kb, vb)[0])
    except Exception:
        ok = False
    if not ok:
        return Feedback(True, "correct on 2-D inputs. Going further: make it work on batches "
                              "(..., n, d) too, e.g. with np.swapaxes(k, -1, -2) instead of k.T")
    return Feedback(True, "correct: scaled scores, stable softmax over the keys, weighted sum of the values, "
                          "and it works on batches")
