"""Positional encodings: the sinusoids of Vaswani et al. and RoPE's relative-position property."""
import math

import numpy as np
import pytest

from attn_course import rotary_embedding, sinusoidal_encoding


def test_sinusoidal_matches_the_formula():
    pe = sinusoidal_encoding(50, 16)
    assert pe.shape == (50, 16)
    for pos in (0, 1, 7, 49):
        for i in range(8):
            angle = pos / 10000 ** (2 * i / 16)
            assert pe[pos, 2 * i] == pytest.approx(math.sin(angle), abs=1e-14)
            assert pe[pos, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-14)


def test_sinusoidal_odd_width_and_bounds():
    pe = sinusoidal_encoding(10, 5)
    assert pe.shape == (10, 5) and np.all(np.abs(pe) <= 1)
    np.testing.assert_allclose(pe[:, 4], np.sin(np.arange(10) / 10000 ** (4 / 5)), rtol=1e-14)


def test_sinusoidal_shift_is_a_linear_map():
    """Vaswani et al.'s reason for sinusoids: PE(pos + k) is a fixed linear function (a rotation per pair) of PE(pos)."""
    d, k = 8, 5
    pe = sinusoidal_encoding(40, d)
    freq = 10000.0 ** (-np.arange(0, d, 2) / d)
    shifted = np.empty_like(pe[:-k])
    sin, cos = pe[:-k, 0::2], pe[:-k, 1::2]
    shifted[:, 0::2] = sin * np.cos(k * freq) + cos * np.sin(k * freq)
    shifted[:, 1::2] = cos * np.cos(k * freq) - sin * np.sin(k * freq)
    np.testing.assert_allclose(shifted, pe[k:], atol=1e-12)


def test_rotary_relative_property():
    """(R_m q) · (R_n k) depends on m and n only through n - m."""
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((2, 1, 16))
    def score(m, n):
        return (rotary_embedding(q, [m]) @ rotary_embedding(k, [n]).T).item()
    for m, n in [(0, 0), (0, 3), (7, 2), (100, 1000)]:
        for shift in (1, 13, 5000):
            assert score(m + shift, n + shift) == pytest.approx(score(m, n), rel=1e-9, abs=1e-9)
    assert score(0, 3) != pytest.approx(score(0, 4), rel=1e-3)  # and it does depend on the offset


def test_rotary_relative_property_for_whole_sequences():
    rng = np.random.default_rng(1)
    q, k = rng.standard_normal((2, 2, 6, 8))  # (batch, n, d)
    scores = rotary_embedding(q) @ np.swapaxes(rotary_embedding(k), -1, -2)
    shifted = rotary_embedding(q, np.arange(6) + 37) @ np.swapaxes(rotary_embedding(k, np.arange(6) + 37), -1, -2)
    np.testing.assert_allclose(shifted, scores, rtol=1e-10, atol=1e-12)


def test_rotary_is_a_rotation_by_position_times_frequency():
    """Against the complex-number form of the RoFormer paper: pair (x_2i, x_2i+1) times e^(i m theta_i)."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 6))
    positions = np.array([0, 1, 2, 10, 3.5])
    theta = 500.0 ** (-np.arange(0, 6, 2) / 6)
    z = (x[:, 0::2] + 1j * x[:, 1::2]) * np.exp(1j * positions[:, None] * theta)
    expected = np.stack([z.real, z.imag], axis=-1).reshape(5, 6)
    np.testing.assert_allclose(rotary_embedding(x, positions, base=500), expected, rtol=1e-12, atol=1e-14)


def test_rotary_keeps_lengths_and_position_zero():
    x = np.random.default_rng(3).standard_normal((3, 4, 8)).astype(np.float32)
    y = rotary_embedding(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(np.linalg.norm(y, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-5)
    np.testing.assert_array_equal(y[:, 0], x[:, 0])


def test_rotary_positions_per_batch_element():
    x = np.random.default_rng(4).standard_normal((2, 3, 4))
    positions = np.array([[0, 1, 2], [5, 6, 7]])
    y = rotary_embedding(x, positions)
    np.testing.assert_allclose(y[1], rotary_embedding(x[1], [5, 6, 7]), rtol=1e-14)
    np.testing.assert_allclose(y[0], rotary_embedding(x[0]), rtol=1e-14)


@pytest.mark.parametrize("call, error, match", [
    (lambda: sinusoidal_encoding(0, 8), ValueError, r"n_positions must be a positive integer, got 0"),
    (lambda: sinusoidal_encoding(4, 8.0), TypeError, r"d_model must be a positive integer, got 8.0"),
    (lambda: rotary_embedding(np.ones((3, 5))), ValueError, r"x must have an even last dimension d .*got shape \(3, 5\)"),
    (lambda: rotary_embedding(np.ones((3, 4)), [0, 1]), ValueError,
     r"positions of shape \(2,\) do not broadcast to x's \(..., n\) = \(3,\)"),
    (lambda: rotary_embedding(np.ones((3, 4)), ["a", "b", "c"]), TypeError, r"positions must be numbers"),
    (lambda: rotary_embedding(np.ones((3, 4)), [0, np.nan, 1]), ValueError, r"positions contains NaN"),
    (lambda: rotary_embedding(np.ones((3, 4)), base=0), ValueError, r"base must be a positive finite number, got 0"),
    (lambda: rotary_embedding(np.ones((3, 4), dtype=int)), TypeError, r"x must be a floating-point array"),
    (lambda: rotary_embedding(np.ones(4)), ValueError, r"x must have at least 2 dimension\(s\)"),
])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- sinusoidal_shift: PE(pos + delta) = M(delta) @ PE(pos) -------------------------------------------

@pytest.mark.parametrize("delta", [0, 1, 5, -3, 2.5, 700])
def test_sinusoidal_shift_moves_every_position_by_delta(delta):
    from attn_course.positional import sinusoidal_shift
    pe = sinusoidal_encoding(1000, 16)
    m = sinusoidal_shift(delta, 16)
    start = max(0, -int(np.floor(delta)))
    for pos in range(start, 200):
        angles = (pos + delta) * 10000.0 ** (-np.arange(0, 16, 2) / 16)
        expected = np.stack([np.sin(angles), np.cos(angles)], axis=-1).ravel()
        np.testing.assert_allclose(m @ pe[pos], expected, atol=1e-12)


def test_sinusoidal_shift_is_a_rotation_and_composes():
    from attn_course.positional import sinusoidal_shift
    m3, m4, m7 = (sinusoidal_shift(k, 8) for k in (3, 4, 7))
    np.testing.assert_allclose(m3 @ m3.T, np.eye(8), atol=1e-14)       # orthogonal
    np.testing.assert_allclose(m3 @ m4, m7, atol=1e-14)                # shifting by 3 then 4 is shifting by 7
    np.testing.assert_allclose(sinusoidal_shift(-3, 8), m3.T, atol=1e-14)
    np.testing.assert_array_equal(sinusoidal_shift(0, 8), np.eye(8))


@pytest.mark.parametrize("args, error, match", [
    ((1, 7), ValueError, "d_model must be even"),
    ((1, 0), ValueError, "d_model"),
    (("1", 8), TypeError, "delta must be a finite number"),
    ((np.inf, 8), TypeError, "delta must be a finite number"),
    ((True, 8), TypeError, "delta must be a finite number"),
])
def test_sinusoidal_shift_rejects_bad_input(args, error, match):
    from attn_course.positional import sinusoidal_shift
    with pytest.raises(error, match=match):
        sinusoidal_shift(*args)
