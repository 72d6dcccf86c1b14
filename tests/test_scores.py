"""Score functions: each equals its equation, pair by pair, and refuses mismatched parameters by name."""
import numpy as np
import pytest

from attn_course import (additive_score, cosine_score, dot_score, general_score, scaled_dot_product_attention,
                         scaled_dot_score, softmax)

rng = np.random.default_rng(0)
Q = rng.standard_normal((2, 3, 4))   # (batch, n_q, d_q)
K = rng.standard_normal((2, 5, 4))   # (batch, n_k, d_k)
K6 = rng.standard_normal((2, 5, 6))  # keys of another size, for the general and additive scores


def pairwise(f, q, k):
    """f(q_i, k_j) for every batch element and pair, by loops."""
    return np.array([[[f(qi, kj) for kj in kb] for qi in qb] for qb, kb in zip(q, k)])


def test_dot_score():
    np.testing.assert_allclose(dot_score(Q, K), pairwise(np.dot, Q, K), rtol=1e-13)


def test_scaled_dot_score_and_attention_agree():
    np.testing.assert_allclose(scaled_dot_score(Q, K), pairwise(np.dot, Q, K) / 2, rtol=1e-13)  # sqrt(4) = 2
    v = rng.standard_normal((2, 5, 3))
    _, weights = scaled_dot_product_attention(Q, K, v)
    np.testing.assert_allclose(weights, softmax(scaled_dot_score(Q, K)), rtol=1e-13)


def test_scaled_dot_score_keeps_float32():
    assert scaled_dot_score(Q.astype(np.float32), K.astype(np.float32)).dtype == np.float32


def test_general_score():
    W = rng.standard_normal((4, 6))
    np.testing.assert_allclose(general_score(Q, K6, W), pairwise(lambda q, k: q @ W @ k, Q, K6), rtol=1e-12)
    np.testing.assert_allclose(general_score(Q, K, np.eye(4)), dot_score(Q, K), rtol=1e-13)


def test_additive_score():
    W_q, W_k, v = rng.standard_normal((4, 7)), rng.standard_normal((6, 7)), rng.standard_normal(7)
    expected = pairwise(lambda q, k: v @ np.tanh(W_q.T @ q + W_k.T @ k), Q, K6)  # the paper's column form
    got = additive_score(Q, K6, W_q, W_k, v)
    assert got.shape == (2, 3, 5)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_cosine_score():
    expected = pairwise(lambda q, k: q @ k / np.linalg.norm(q) / np.linalg.norm(k), Q, K)
    got = cosine_score(Q, K)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert np.all(np.abs(got) <= 1 + 1e-12)
    np.testing.assert_allclose(cosine_score(3.5 * Q, 0.1 * K), got, rtol=1e-12)  # lengths do not count
    np.testing.assert_allclose(cosine_score(Q[0], Q[0]).diagonal(), 1, rtol=1e-14)


def test_cosine_of_a_zero_vector_is_zero_not_nan():
    q = np.zeros((1, 3))
    np.testing.assert_array_equal(cosine_score(q, np.ones((2, 3))), [[0.0, 0.0]])


def test_two_dimensional_inputs():
    W_q, W_k, v = rng.standard_normal((4, 7)), rng.standard_normal((4, 7)), rng.standard_normal(7)
    for f in (dot_score, scaled_dot_score, cosine_score, lambda q, k: general_score(q, k, W_q @ W_k.T),
              lambda q, k: additive_score(q, k, W_q, W_k, v)):
        np.testing.assert_allclose(f(Q[0], K[1]), f(Q, K[::-1])[0], rtol=1e-13)


@pytest.mark.parametrize("call, error, match", [
    (lambda: dot_score(Q, K6), ValueError, r"q and k must share the last dimension d_k: .*\(d_k=4\).*\(d_k=6\)"),
    (lambda: scaled_dot_score(Q, K[:1].repeat(3, 0)), ValueError, r"leading \(batch\) dimensions of q \(2,\), k \(3,\)"),
    (lambda: cosine_score(Q, K.astype(int)), TypeError, r"k must be a floating-point array"),
    (lambda: dot_score(Q[0, 0], K), ValueError, r"q must have at least 2 dimension\(s\), got shape \(4,\)"),
    (lambda: general_score(Q, K6, np.ones((6, 4))), ValueError, r"W must have shape \(d_q, d_k\) = \(4, 6\), got \(6, 4\)"),
    (lambda: general_score(Q, K, np.full((4, 4), np.nan)), ValueError, r"W contains NaN"),
    (lambda: additive_score(Q, K6, np.ones((5, 7)), np.ones((6, 7)), np.ones(7)), ValueError,
     r"W_q must have shape \(d_q, d_a\) = \(4, 7\), got \(5, 7\)"),
    (lambda: additive_score(Q, K6, np.ones((4, 7)), np.ones((6, 3)), np.ones(7)), ValueError,
     r"W_k must have shape \(d_k, d_a\) = \(6, 7\), got \(6, 3\)"),
    (lambda: additive_score(Q, K6, np.ones((4, 7)), np.ones((6, 7)), np.ones(3)), ValueError,
     r"v must have shape \(d_a,\) = \(7,\), got \(3,\)"),
    (lambda: additive_score(Q, K6, np.ones((4, 7), dtype=int), np.ones((6, 7)), np.ones(7)), TypeError,
     r"W_q must be a floating-point array"),
])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
