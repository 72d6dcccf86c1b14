"""Softmax: turn any list of scores into a probability distribution.

    softmax(x)_i = exp(x_i / T) / sum_j exp(x_j / T)

Subtracting the row maximum before `exp` changes nothing mathematically (softmax is shift invariant)
but keeps every exponent <= 0, so `exp` never overflows, even for scores near 1e308.
"""
import numpy as np

from ._checks import as_float_array, as_mask, positive


def softmax(x, axis=-1, *, temperature=1.0, mask=None):
    """Numerically stable softmax along `axis`.

    x: (..., n) floating array. temperature: T > 0; T -> 0 approaches argmax, T -> inf approaches uniform.
    mask: boolean, broadcastable to x.shape, True = keep. Masked entries get exactly 0; a slice whose
    entries are all masked gets all zeros (not NaN), which is what attention wants for a query that
    may look at nothing.
    """
    x = as_float_array(x, "x")
    temperature = positive(temperature, "temperature")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis must be in [{-x.ndim}, {x.ndim - 1}] for x of shape {x.shape}, got {axis}")
    keep = np.ones(x.shape, dtype=bool) if mask is None else np.broadcast_to(as_mask(mask, "mask", x.shape), x.shape)

    # Divide with the max already subtracted: for scores near +-1e308, x / T could overflow, but the
    # shifted scores z = x - max are <= 0. Their difference can still overflow to -inf, whose exp is 0.
    with np.errstate(over="ignore", invalid="ignore"):
        x_max = np.max(np.where(keep, x, -np.inf), axis=axis, keepdims=True)
        x_max = np.where(np.isfinite(x_max), x_max, 0)  # a fully masked slice has max -inf
        z = np.where(keep, (x - x_max), -np.inf) / temperature
    e = np.exp(z)
    total = np.sum(e, axis=axis, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)
