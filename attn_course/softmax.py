"""Softmax: turn any list of scores into a probability distribution.

    softmax(x)_i = exp(x_i / T) / sum_j exp(x_j / T)

Subtracting the row maximum before `exp` changes nothing mathematically (softmax is shift invariant)
but keeps every exponent <= 0, so `exp` never overflows, even for scores near 1e308.
A masked entry is set to -inf before all this: exp(-inf) = 0, so it gets exactly zero weight.

The softmax as the normalisation of attention scores is from Bahdanau, Cho & Bengio, "Neural Machine
Translation by Jointly Learning to Align and Translate", ICLR 2015 (eq. 6), and with temperature from
Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network", arXiv 2015.
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
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an int, got {axis!r}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis must be in [{-x.ndim}, {x.ndim - 1}] for x of shape {x.shape}, got {axis}")
    z = x.copy() if mask is None else np.where(as_mask(mask, "mask", x.shape), x, -np.inf)
    return softmax_(z, axis, temperature)


def softmax_(z, axis=-1, temperature=1.0):
    """softmax(z) computed in place, overwriting and returning `z`; masked entries must already be -inf.

    No checks: this is the inner loop that attention calls on scores it has just made, where a copy
    of an (n_q, n_k) matrix per step would cost as much time as the arithmetic.
    """
    z_max = z.max(axis=axis, keepdims=True, initial=-np.inf)  # initial: an empty slice (no keys) is fine
    z_max[np.isneginf(z_max)] = 0  # a fully masked slice: keep its -inf entries at -inf, not NaN
    # For scores near +-1e308 the shifted scores z - max can overflow to -inf, and exp of a very negative
    # score underflows: both give weight 0, as they should, so neither is worth a warning.
    with np.errstate(over="ignore", under="ignore"):
        z -= z_max
        if temperature != 1.0:  # divided after the shift: x / T itself could overflow
            z /= temperature
        np.exp(z, out=z)
        total = z.sum(axis=axis, keepdims=True)  # >= 1, or 0 for a fully masked slice, all of whose entries are 0
        z /= np.where(total > 0, total, 1)
    return z
