"""Sliding-window attention equals full attention under a band mask; linear attention equals its quadratic form."""
import numpy as np
import pytest

from attn_course import scaled_dot_product_attention
from attn_course.efficient import (band_mask, elu_feature_map, linear_attention, linear_attention_weights,
                                   relative_error, sliding_window_attention)


def qkv(n, d=8, d_v=5, batch=(), dtype=np.float64, seed=0, n_k=None):
    rng = np.random.default_rng(seed)
    n_k = n if n_k is None else n_k
    return tuple(rng.standard_normal((*batch, m, dim)).astype(dtype) for m, dim in ((n, d), (n_k, d), (n_k, d_v)))


# ---------------------------------------------------------------------------------------------------
# band_mask

def test_band_mask_by_hand():
    expected = np.array([[1, 1, 0, 0],
                         [1, 1, 1, 0],
                         [0, 1, 1, 1],
                         [0, 0, 1, 1]], dtype=bool)
    np.testing.assert_array_equal(band_mask(4, 1), expected)
    np.testing.assert_array_equal(band_mask(4, 1, causal=True), np.tril(expected))
    np.testing.assert_array_equal(band_mask(3, 0), np.eye(3, dtype=bool))
    assert band_mask(5, 10).all()


# ---------------------------------------------------------------------------------------------------
# sliding_window_attention

@pytest.mark.parametrize("n", [1, 2, 7, 33])
@pytest.mark.parametrize("window", [0, 1, 3, 6, 50])
@pytest.mark.parametrize("causal", [False, True])
def test_sliding_window_equals_full_attention_with_band_mask(n, window, causal):
    q, k, v = qkv(n)
    expected, _ = scaled_dot_product_attention(q, k, v, mask=band_mask(n, window, causal=causal))
    got = sliding_window_attention(q, k, v, window, causal=causal)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)


def test_sliding_window_batches_float32_scale():
    q, k, v = qkv(20, batch=(2, 3), dtype=np.float32, seed=1)
    expected, _ = scaled_dot_product_attention(q, k, v, mask=band_mask(20, 4, causal=True), scale=0.3)
    got = sliding_window_attention(q, k, v, 4, causal=True, scale=0.3)
    assert got.dtype == np.float32 and got.shape == (2, 3, 20, 5)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_sliding_window_broadcasts_batches():
    q, _, _ = qkv(9, batch=(2, 1), seed=2)
    _, k, v = qkv(9, batch=(3,), seed=3)
    expected, _ = scaled_dot_product_attention(q, k, v, mask=band_mask(9, 2))
    np.testing.assert_allclose(sliding_window_attention(q, k, v, 2), expected, atol=1e-13)


def test_window_covering_everything_is_full_attention():
    q, k, v = qkv(12, seed=4)
    full, _ = scaled_dot_product_attention(q, k, v)
    np.testing.assert_allclose(sliding_window_attention(q, k, v, 11), full, atol=1e-13)
    causal, _ = scaled_dot_product_attention(q, k, v, causal=True)
    np.testing.assert_allclose(sliding_window_attention(q, k, v, 11, causal=True), causal, atol=1e-13)


def test_sliding_window_large_scores_do_not_overflow():
    q, k, v = qkv(15, seed=5)
    got = sliding_window_attention(300 * q, 300 * k, v, 3)
    expected, _ = scaled_dot_product_attention(300 * q, 300 * k, v, mask=band_mask(15, 3))
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, atol=1e-9)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(window=-1), ValueError, "window must be >= 0"),
    (dict(window=1.5), TypeError, "window must be a non-negative int"),
    (dict(window=True), TypeError, "window must be a non-negative int"),
    (dict(k=np.zeros((6, 8)), v=np.zeros((6, 5))), ValueError, "same length n"),
    (dict(k=np.zeros((5, 4))), ValueError, "share the last dimension d_k"),
    (dict(q=np.zeros((5, 8), dtype=int)), TypeError, "q must be a floating-point array"),
    (dict(scale=-1.0), ValueError, "scale must be a positive finite number"),
])
def test_sliding_window_bad_input(kwargs, error, match):
    q, k, v = qkv(5)
    args = dict(q=q, k=k, v=v, window=2, scale=None)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        sliding_window_attention(args["q"], args["k"], args["v"], args["window"], scale=args["scale"])


def test_band_mask_bad_input():
    with pytest.raises(ValueError, match="n must be a positive int"):
        band_mask(0, 1)
    with pytest.raises(ValueError, match="window must be >= 0"):
        band_mask(4, -2)


# ---------------------------------------------------------------------------------------------------
# linear attention

def test_elu_feature_map():
    x = np.array([-50.0, -1.0, 0.0, 0.5, 3.0])
    np.testing.assert_allclose(elu_feature_map(x), [np.exp(-50.0), np.exp(-1.0), 1.0, 1.5, 4.0])
    assert (elu_feature_map(np.linspace(-800, 800, 11)) >= 0).all()


@pytest.mark.parametrize("n_q, n_k", [(1, 1), (7, 7), (10, 25), (25, 10)])
def test_linear_attention_equals_its_quadratic_form(n_q, n_k):
    q, k, v = qkv(n_q, n_k=n_k, seed=6)
    weights = linear_attention_weights(q, k)
    assert weights.shape == (n_q, n_k)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0)
    np.testing.assert_allclose(linear_attention(q, k, v), weights @ v, rtol=1e-12, atol=1e-13)


def test_linear_attention_by_hand():
    # phi of these rows: q -> [2, 1], k -> [[1, 1], [3, e^-1]]; similarities 3 and 6 + e^-1
    q = np.array([[1.0, 0.0]])
    k = np.array([[0.0, 0.0], [2.0, -1.0]])
    v = np.array([[1.0], [0.0]])
    s = np.array([3.0, 6.0 + np.exp(-1.0)])
    np.testing.assert_allclose(linear_attention(q, k, v), [[s[0] / s.sum()]])


def test_causal_linear_attention_equals_masked_quadratic_form():
    q, k, v = qkv(16, batch=(2,), seed=7)
    weights = np.tril(elu_feature_map(q) @ np.swapaxes(elu_feature_map(k), -1, -2))
    weights /= weights.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(linear_attention(q, k, v, causal=True), weights @ v, rtol=1e-12, atol=1e-13)


def test_linear_attention_float32_and_batches():
    q, k, v = qkv(30, batch=(2, 3), dtype=np.float32, seed=8)
    got = linear_attention(q, k, v)
    assert got.dtype == np.float32 and got.shape == (2, 3, 30, 5)
    np.testing.assert_allclose(got, linear_attention_weights(q, k) @ v, rtol=1e-5, atol=1e-5)


def test_linear_attention_is_not_softmax_attention():
    q, k, v = qkv(40, seed=9)
    full, _ = scaled_dot_product_attention(q, k, v)
    assert relative_error(linear_attention(q, k, v), full) > 0.05


@pytest.mark.parametrize("kwargs, match", [
    (dict(v=np.zeros((6, 5))), "one value per key"),
    (dict(k=np.zeros((5, 3))), "share the last dimension d_k"),
    (dict(causal=True, q=np.zeros((4, 8))), r"n_q == n_k"),
    (dict(feature_map=lambda x: x), "non-negative features"),
])
def test_linear_attention_bad_input(kwargs, match):
    q, k, v = qkv(5, seed=10)
    args = dict(q=q, k=k, v=v, causal=False, feature_map=elu_feature_map)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        linear_attention(args["q"], args["k"], args["v"], causal=args["causal"], feature_map=args["feature_map"])


def test_relative_error():
    assert relative_error([3.0, 4.0], [3.0, 4.0]) == 0.0
    assert relative_error([0.0, 0.0], [3.0, 4.0]) == 1.0
    with pytest.raises(ValueError, match="same shape"):
        relative_error(np.zeros(3), np.zeros(4))
