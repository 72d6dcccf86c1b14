"""scaled_dot_product_attention: the equation, broadcasting, masks, dtypes, and clear errors."""
import numpy as np
import pytest

from attn_course import causal_mask, scaled_dot_product_attention


def qkv(n_q=4, n_k=6, d_k=8, d_v=5, batch=(), dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal((*batch, n, d)).astype(dtype) for n, d in ((n_q, d_k), (n_k, d_k), (n_k, d_v)))


def reference(q, k, v, allowed=None, scale=None):
    """One query at a time, straight from the equation, for 2-D inputs."""
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    allowed = np.ones((len(q), len(k)), dtype=bool) if allowed is None else np.broadcast_to(allowed, (len(q), len(k)))
    out, weights = np.zeros((len(q), v.shape[-1])), np.zeros((len(q), len(k)))
    for i, query in enumerate(q):
        scores = np.array([query @ key * scale for key in k])
        if allowed[i].any():
            e = np.where(allowed[i], np.exp(scores - scores[allowed[i]].max()), 0)
            weights[i] = e / e.sum()
            out[i] = weights[i] @ v
    return out, weights


def test_matches_the_equation():
    q, k, v = qkv()
    out, weights = scaled_dot_product_attention(q, k, v)
    ref_out, ref_weights = reference(q, k, v)
    np.testing.assert_allclose(weights, ref_weights, rtol=1e-12)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12)


def test_shapes_and_batch_broadcasting():
    q, _, _ = qkv(batch=(2, 1))
    _, k, v = qkv(batch=(1, 3), seed=1)
    out, weights = scaled_dot_product_attention(q, k, v)
    assert out.shape == (2, 3, 4, 5) and weights.shape == (2, 3, 4, 6)
    for b in range(2):
        for h in range(3):
            ref_out, ref_weights = reference(q[b, 0], k[0, h], v[0, h])
            np.testing.assert_allclose(out[b, h], ref_out, rtol=1e-12)
            np.testing.assert_allclose(weights[b, h], ref_weights, rtol=1e-12)


def test_shared_keys_broadcast_against_batched_queries():
    q, _, _ = qkv(batch=(3,))
    _, k, v = qkv(seed=1)  # 2-D keys and values, shared by every batch element
    out, _ = scaled_dot_product_attention(q, k, v)
    for b in range(3):
        np.testing.assert_allclose(out[b], reference(q[b], k, v)[0], rtol=1e-12)


def test_default_scale_is_one_over_sqrt_dk_and_scale_is_used():
    q, k, v = qkv(d_k=16)
    _, default = scaled_dot_product_attention(q, k, v)
    _, explicit = scaled_dot_product_attention(q, k, v, scale=0.25)
    np.testing.assert_allclose(default, explicit, rtol=1e-14)
    _, other = scaled_dot_product_attention(q, k, v, scale=0.7)
    np.testing.assert_allclose(other, reference(q, k, v, scale=0.7)[1], rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_in_is_dtype_out(dtype):
    q, k, v = qkv(dtype=dtype, batch=(2,))
    out, weights = scaled_dot_product_attention(q, k, v, mask=np.ones(6, dtype=bool), causal=True)
    assert out.dtype == dtype and weights.dtype == dtype
    ref_out, _ = scaled_dot_product_attention(*(a.astype(np.float64) for a in (q, k, v)), causal=True)
    np.testing.assert_allclose(out, ref_out, rtol=1e-5, atol=1e-6)


def test_mask_zeroes_weights_and_matches_reference():
    q, k, v = qkv(batch=(2,))
    mask = np.random.default_rng(9).random((2, 4, 6)) < 0.6
    mask[:, :, 0] = True
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    assert np.all(weights[~mask] == 0)
    for b in range(2):
        ref_out, ref_weights = reference(q[b], k[b], v[b], allowed=mask[b])
        np.testing.assert_allclose(weights[b], ref_weights, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(out[b], ref_out, rtol=1e-12)


def test_key_mask_broadcasts_over_queries():
    q, k, v = qkv()
    keys = np.array([True, True, False, True, False, True])
    _, weights = scaled_dot_product_attention(q, k, v, mask=keys)
    assert np.all(weights[:, ~keys] == 0)
    np.testing.assert_allclose(weights.sum(-1), 1, rtol=1e-14)


def test_fully_masked_query_gets_zero_weights_and_output():
    q, k, v = qkv()
    mask = np.ones((4, 6), dtype=bool)
    mask[2] = False
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    assert np.all(weights[2] == 0) and np.all(out[2] == 0)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[[0, 1, 3]], reference(q, k, v)[0][[0, 1, 3]], rtol=1e-12)


def test_causal():
    q, k, v = qkv(n_q=5, n_k=5)
    out, weights = scaled_dot_product_attention(q, k, v, causal=True)
    assert np.all(np.triu(weights, k=1) == 0)
    np.testing.assert_allclose(weights, reference(q, k, v, allowed=np.tril(np.ones((5, 5), bool)))[1], rtol=1e-12)
    # The first query sees only the first key: its output is that key's value.
    np.testing.assert_allclose(out[0], v[0], rtol=1e-14)


def test_causal_combines_with_mask():
    q, k, v = qkv(n_q=5, n_k=5)
    keys = np.array([False, True, True, True, True])
    _, weights = scaled_dot_product_attention(q, k, v, causal=True, mask=keys)
    assert np.all(weights[0] == 0)  # sees only key 0, which is masked
    np.testing.assert_allclose(weights, reference(q, k, v, allowed=causal_mask(5) & keys)[1], rtol=1e-12)


def test_causal_mask_aligns_to_the_last_queries():
    np.testing.assert_array_equal(causal_mask(3), np.tril(np.ones((3, 3), bool)))
    # Two new queries after three cached keys: positions 3 and 4 of 5.
    np.testing.assert_array_equal(causal_mask(2, 5), [[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]])
    # More queries than keys: the first ones see nothing, and attention gives them zeros.
    np.testing.assert_array_equal(causal_mask(3, 2), [[0, 0], [1, 0], [1, 1]])
    q, k, v = qkv(n_q=3, n_k=2)
    out, _ = scaled_dot_product_attention(q, k, v, causal=True)
    assert np.all(out[0] == 0) and np.isfinite(out).all()


def test_large_scores_do_not_overflow_softmax():
    q, k, v = qkv(dtype=np.float32)
    out, weights = scaled_dot_product_attention(q * 1e3, k * 1e3, v)  # scores ~1e6: exp would overflow
    assert np.isfinite(out).all()
    np.testing.assert_allclose(weights.sum(-1), 1, rtol=1e-6)


def test_scores_that_overflow_the_dtype_are_an_error():
    q, k, v = qkv(dtype=np.float32)
    with pytest.raises(ValueError, match=r"the scores q @ k\^T \* scale overflow float32: max \|q\| = .*"):
        scaled_dot_product_attention(q * 1e20, k * 1e20, v)


def test_inputs_are_not_modified():
    q, k, v = qkv()
    copies = [a.copy() for a in (q, k, v)]
    scaled_dot_product_attention(q, k, v, mask=q[:, :1] > 0, causal=True)
    for a, b in zip((q, k, v), copies):
        np.testing.assert_array_equal(a, b)


def test_one_query_one_key():
    out, weights = scaled_dot_product_attention(np.ones((1, 2)), np.ones((1, 2)), np.array([[3.0, 4.0]]))
    np.testing.assert_array_equal(weights, [[1.0]])
    np.testing.assert_array_equal(out, [[3.0, 4.0]])


def test_no_keys_means_zero_output():
    q, k, v = qkv(n_k=0)
    out, weights = scaled_dot_product_attention(q, k, v)
    assert weights.shape == (4, 0)
    np.testing.assert_array_equal(out, np.zeros((4, 5)))


def test_rows_in_parallel_blocks_give_the_same_bits(monkeypatch):
    import attn_course.attention as attention
    q, k, v = qkv(n_q=37, n_k=11, batch=(3,), dtype=np.float32)
    mask = np.random.default_rng(7).random((3, 37, 11)) < 0.7
    expected = scaled_dot_product_attention(q, k, v, mask=mask, causal=True)
    monkeypatch.setattr(attention, "BLOCK_BYTES", 3 * 11 * 4)  # three rows a block: 37 blocks on the thread pool
    got = scaled_dot_product_attention(q, k, v, mask=mask, causal=True)
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
    assert np.all(got[1][~(mask & causal_mask(37, 11))] == 0)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(k=np.zeros((6, 7))), ValueError, r"q and k must share the last dimension d_k: q has shape \(4, 8\) "
                                           r"\(d_k=8\), k has shape \(6, 7\) \(d_k=7\)"),
    (dict(v=np.zeros((5, 5))), ValueError, r"k and v must have one value per key: k has 6 keys .* v has 5 values"),
    (dict(q=np.zeros((2, 4, 8)), k=np.zeros((3, 6, 8))), ValueError,
     r"leading \(batch\) dimensions of q \(2,\), k \(3,\) do not broadcast"),
    (dict(v=np.zeros((3, 6, 5)), q=np.zeros((2, 4, 8))), ValueError,
     r"leading \(batch\) dimensions of q \(2,\), k \(\), v \(3,\) do not broadcast"),
    (dict(mask=np.ones((4, 5), dtype=bool)), ValueError, r"mask of shape \(4, 5\) does not broadcast to \(4, 6\)"),
    (dict(mask=np.ones((3, 4, 6), dtype=bool)), ValueError, r"mask of shape \(3, 4, 6\) would enlarge"),
    (dict(mask=np.ones((4, 6))), TypeError, r"mask must be a boolean array \(True = may attend\), got dtype float64"),
    (dict(mask=np.ones((4, 6), dtype=int)), TypeError, r"mask must be a boolean array .*got dtype int64"),
    (dict(q=np.full((4, 8), np.nan)), ValueError, r"q contains NaN; expected finite numbers"),
    (dict(k=np.full((6, 8), -np.inf)), ValueError, r"k contains inf; expected finite numbers"),
    (dict(v=np.full((6, 5), np.inf)), ValueError, r"v contains inf"),
    (dict(q=np.zeros((4, 8), dtype=np.int32)), TypeError, r"q must be a floating-point array .*got dtype int32"),
    (dict(v=np.zeros((6, 5), dtype=bool)), TypeError, r"v must be a floating-point array .*got dtype bool"),
    (dict(q=np.zeros(8)), ValueError, r"q must have at least 2 dimension\(s\), got shape \(8,\)"),
    (dict(scale=0), ValueError, r"scale must be a positive finite number, got 0"),
    (dict(scale=-0.5), ValueError, r"scale must be a positive finite number, got -0.5"),
    (dict(scale="big"), TypeError, r"scale must be a positive number, got 'big'"),
])
def test_bad_input(kwargs, error, match):
    q, k, v = qkv()
    args = dict(q=q, k=k, v=v)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        scaled_dot_product_attention(args.pop("q"), args.pop("k"), args.pop("v"), **args)
