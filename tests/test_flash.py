"""Tiled attention (online softmax) equals plain attention, for every shape, block size and mask."""
import numpy as np
import pytest

from attn_course import scaled_dot_product_attention
from attn_course.flash import tiled_attention


def qkv(n_q, n_k, d=8, d_v=5, batch=(), dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal((*batch, n, dim)).astype(dtype) for n, dim in ((n_q, d), (n_k, d), (n_k, d_v)))


@pytest.mark.parametrize("n_q, n_k", [(1, 1), (7, 7), (33, 33), (10, 25), (25, 10), (64, 64)])
@pytest.mark.parametrize("block_size", [1, 4, 16, 1000])
@pytest.mark.parametrize("causal", [False, True])
def test_equals_plain_attention(n_q, n_k, block_size, causal):
    q, k, v = qkv(n_q, n_k)
    expected, _ = scaled_dot_product_attention(q, k, v, causal=causal)
    got = tiled_attention(q, k, v, causal=causal, block_size=block_size)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_batches_float32_and_scale():
    q, k, v = qkv(40, 40, batch=(2, 3), dtype=np.float32, seed=1)
    expected, _ = scaled_dot_product_attention(q, k, v, causal=True, scale=0.3)
    got = tiled_attention(q, k, v, causal=True, scale=0.3, block_size=16)
    assert got.dtype == np.float32 and got.shape == (2, 3, 40, 5)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_large_scores_do_not_overflow():
    q, k, v = qkv(20, 20, seed=2)
    got = tiled_attention(300 * q, 300 * k, v, block_size=4)  # scores in the tens of thousands
    expected, _ = scaled_dot_product_attention(300 * q, 300 * k, v)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_query_with_no_visible_key_gets_zero_output():
    q, k, v = qkv(6, 3)  # causal with n_q > n_k: the first three queries see no key
    got = tiled_attention(q, k, v, causal=True, block_size=2)
    expected, _ = scaled_dot_product_attention(q, k, v, causal=True)
    assert np.all(got[:3] == 0) and np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, atol=1e-12)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(k=np.zeros((4, 3))), ValueError, "share the last dimension d_k"),
    (dict(v=np.zeros((5, 2))), ValueError, "one value per key"),
    (dict(block_size=0), ValueError, "block_size must be a positive integer"),
    (dict(block_size=2.0), TypeError, "block_size must be a positive integer"),
    (dict(scale=-1), ValueError, "scale must be a positive finite number, got -1"),
    (dict(scale="x"), TypeError, "scale must be a positive number, got 'x'"),
    (dict(q=np.zeros((2, 4, 8)), k=np.zeros((3, 4, 8)), v=np.zeros((3, 4, 8))), ValueError,
     r"leading \(batch\) dimensions of q \(2,\), k \(3,\) do not broadcast"),
    (dict(q=np.zeros((4, 8), dtype=int)), TypeError, "q must be a floating-point array"),
])
def test_bad_input(kwargs, error, match):
    q, k, v = qkv(4, 4)
    args = dict(q=q, k=k, v=v)
    block = kwargs.pop("block_size", 2)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        tiled_attention(**args, block_size=block)
