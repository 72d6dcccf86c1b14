"""Positional encodings: attention by itself cannot tell "dog bites man" from "man bites dog".

Scaled dot-product attention treats its keys as a set: permute the tokens and the outputs permute with
them. Order has to be put into the vectors themselves. Two ways:

Sinusoidal (Vaswani et al., "Attention Is All You Need", NIPS 2017, sec. 3.5): *add* to token i

    PE(pos, 2i)   = sin(pos / 10000^(2i / d_model))
    PE(pos, 2i+1) = cos(pos / 10000^(2i / d_model))

one sine/cosine pair per frequency, from one turn every 2π positions to one every 10000·2π. Their
reason (sec. 3.5): for any offset δ, PE(pos + δ) is a fixed linear map of PE(pos), the same for every
pos: one 2-D rotation by the angle δ ω_i per pair (sinusoidal_shift builds it).

Learned (GPT-2, BERT, ViT): a table with one trained row per position,
added like the sinusoids. It knows nothing beyond its last row (attn_course.models.TinyViT has one).

Rotary (Su et al., "RoFormer: Enhanced Transformer with Rotary Position Embedding", arXiv 2021 /
Neurocomputing 2024): *rotate* each pair of coordinates (x_2i, x_2i+1) of a query or key at position
m by the angle m θ_i, θ_i = base^(-2i/d). Rotations preserve dot products up to their difference, so

    (R_m q) · (R_n k) = q · R_(n-m) k

depends on the positions only through the offset n - m: attention sees relative positions.
"""
import numpy as np

from ._checks import as_float_array, positive, positive_int


def sinusoidal_encoding(n_positions, d_model):
    """(n_positions, d_model) float64: row pos is the encoding added to the token at position pos.

    Even columns 2i hold sin(pos / 10000^(2i/d_model)), odd columns 2i+1 the cos at the same frequency.
    """
    n_positions = positive_int(n_positions, "n_positions")
    d_model = positive_int(d_model, "d_model")
    pos = np.arange(n_positions)[:, None]                        # (n_positions, 1)
    inv_freq = 10000.0 ** (-np.arange(0, d_model, 2) / d_model)  # (ceil(d_model / 2),) 1/10000^(2i/d)
    angles = pos * inv_freq                                      # (n_positions, ceil(d_model / 2))
    pe = np.empty((n_positions, d_model))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles[:, : d_model // 2])  # odd d_model: the last sine has no cosine partner
    return pe


def sinusoidal_shift(delta, d_model):
    """(d_model, d_model) float64 M with PE(pos + delta) = M @ PE(pos) for every pos (sinusoidal_encoding rows).

    Block diagonal: for pair i, with angle a = delta * ω_i, ω_i = 10000^(-2i/d_model), the angle-addition
    formulas sin(x + a) = sin x cos a + cos x sin a and cos(x + a) = cos x cos a - sin x sin a give

        [sin]      [ cos a   sin a] [sin]
        [cos]  <-  [-sin a   cos a] [cos]       a rotation, which depends on delta, not on pos.

    d_model must be even: with an odd d_model the last sine has no cosine to rotate with.
    """
    d_model = positive_int(d_model, "d_model")
    if d_model % 2:
        raise ValueError(f"d_model must be even (each sine is rotated with its cosine), got {d_model}")
    if isinstance(delta, bool) or not isinstance(delta, (int, float, np.integer, np.floating)) or not np.isfinite(delta):
        raise TypeError(f"delta must be a finite number (an offset in positions), got {delta!r}")
    a = delta * 10000.0 ** (-np.arange(0, d_model, 2) / d_model)   # (d_model/2,) one angle per pair
    m = np.zeros((d_model, d_model))
    m[0::2, 0::2] = np.diag(np.cos(a))
    m[0::2, 1::2] = np.diag(np.sin(a))
    m[1::2, 0::2] = np.diag(-np.sin(a))
    m[1::2, 1::2] = np.diag(np.cos(a))
    return m


def rotary_embedding(x, positions=None, base=10000):
    """Rotate each pair (x_2i, x_2i+1) of x at position m by the angle m · base^(-2i/d) (RoPE).

    x: (..., n, d), d even, float.  positions: (n,) or broadcastable to (..., n); default 0, 1, ..., n-1.
    base: the longest wavelength is about 2π · base positions.  Returns an array like x.
    Apply it to queries and keys (not values), after the projections and before the dot product.
    """
    x = as_float_array(x, "x", min_ndim=2)
    *batch, n, d = x.shape
    if d % 2:
        raise ValueError(f"x must have an even last dimension d (coordinates are rotated in pairs), got shape {x.shape}")
    base = positive(base, "base")
    if positions is None:
        positions = np.arange(n)
    positions = np.asarray(positions)
    if positions.dtype.kind not in "iuf":
        raise TypeError(f"positions must be numbers (int or float), got dtype {positions.dtype}")
    positions = as_float_array(positions.astype(np.float64), "positions", min_ndim=0)
    try:
        np.broadcast_shapes(positions.shape, (*batch, n))
    except ValueError:
        raise ValueError(f"positions of shape {positions.shape} do not broadcast to x's (..., n) = "
                         f"{(*batch, n)}") from None

    theta = base ** (-np.arange(0, d, 2) / d)       # (d/2,) one angular frequency per pair
    angle = positions[..., None] * theta            # (..., n, d/2), in float64: positions can be large
    cos, sin = np.cos(angle).astype(x.dtype), np.sin(angle).astype(x.dtype)
    x_even, x_odd = x[..., 0::2], x[..., 1::2]
    out = np.empty(np.broadcast_shapes(x.shape, cos.shape[:-1] + (d,)), dtype=x.dtype)
    out[..., 0::2] = x_even * cos - x_odd * sin     # the 2-D rotation [[cos, -sin], [sin, cos]]
    out[..., 1::2] = x_even * sin + x_odd * cos
    return out
