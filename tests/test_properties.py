"""Properties that must hold for every input, checked by Hypothesis on random shapes and values."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from attn_course import multi_head_attention, init_params, scaled_dot_product_attention, softmax

FAST = settings(max_examples=50, deadline=None, database=None)  # no .hypothesis/ left behind

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
moderate = st.floats(-100, 100, allow_nan=False, width=64)
shapes = st.tuples(st.integers(1, 4), st.integers(1, 7))


@FAST
@given(arrays(np.float64, shapes, elements=finite))
def test_softmax_is_a_distribution_for_any_finite_input(x):
    w = softmax(x)
    assert np.isfinite(w).all() and np.all(w >= 0)
    np.testing.assert_allclose(w.sum(axis=-1), 1, rtol=1e-12)
    # The largest score gets the largest weight.
    assert np.all(w[np.arange(len(x)), x.argmax(axis=-1)] == w.max(axis=-1))


@FAST
@given(arrays(np.float64, shapes, elements=moderate), st.floats(-1e3, 1e3), st.floats(0.05, 20))
def test_softmax_is_shift_invariant(x, shift, temperature):
    np.testing.assert_allclose(softmax(x + shift, temperature=temperature), softmax(x, temperature=temperature),
                               rtol=1e-9, atol=1e-12)


@st.composite
def attention_case(draw, max_batch=2, max_n=6, max_d=5):
    """(q, k, v, mask) with random batch, n_q, n_k, d_k, d_v, and a mask of any broadcastable kind."""
    batch = draw(st.lists(st.integers(1, max_batch), max_size=2)).copy()
    n_q, n_k, d_k, d_v = (draw(st.integers(1, m)) for m in (max_n, max_n, max_d, max_d))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal((*batch, n, d)) * 2 for n, d in ((n_q, d_k), (n_k, d_k), (n_k, d_v)))
    mask_shape = draw(st.sampled_from([None, (n_k,), (n_q, n_k), (*batch, n_q, n_k)]))
    mask = None if mask_shape is None else rng.random(mask_shape) < 0.6
    return q, k, v, mask


@FAST
@given(attention_case(), st.booleans())
def test_attention_weights_are_distributions_or_zero(case, causal):
    q, k, v, mask = case
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal)
    assert np.isfinite(out).all() and np.all(weights >= 0)
    allowed = np.ones(weights.shape, dtype=bool) if mask is None else np.broadcast_to(mask, weights.shape)
    if causal:
        allowed = allowed & np.tril(np.ones(weights.shape[-2:], dtype=bool), k=k.shape[-2] - q.shape[-2])
    assert np.all(weights[~allowed] == 0)
    sums = weights.sum(axis=-1)
    has_key = allowed.any(axis=-1)
    np.testing.assert_allclose(sums[has_key], 1, rtol=1e-12)
    assert np.all(sums[~has_key] == 0)


@FAST
@given(st.integers(1, 8), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_self_attention_is_permutation_equivariant(n, d, seed):
    """Without positions, attention cannot see order: permuting the tokens permutes the outputs."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    perm = rng.permutation(n)
    out, weights = scaled_dot_product_attention(x, x, x)
    out_p, weights_p = scaled_dot_product_attention(x[perm], x[perm], x[perm])
    np.testing.assert_allclose(out_p, out[perm], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights_p, weights[perm][:, perm], rtol=1e-10, atol=1e-12)
    p = init_params(2 * d, rng)
    x2 = rng.standard_normal((n, 2 * d))
    mh, _ = multi_head_attention(x2, x2, p, 2)
    mh_p, _ = multi_head_attention(x2[perm], x2[perm], p, 2)
    np.testing.assert_allclose(mh_p, mh[perm], rtol=1e-10, atol=1e-12)


@FAST
@given(attention_case(), st.integers(0, 2**32 - 1))
def test_permuting_keys_and_values_together_changes_nothing(case, seed):
    q, k, v, mask = case
    perm = np.random.default_rng(seed).permutation(k.shape[-2])
    mask_p = None if mask is None else mask[..., perm]
    out, _ = scaled_dot_product_attention(q, k, v, mask=mask)
    out_p, _ = scaled_dot_product_attention(q, k[..., perm, :], v[..., perm, :], mask=mask_p)
    np.testing.assert_allclose(out_p, out, rtol=1e-10, atol=1e-12)


@FAST
@given(attention_case(), st.booleans(), st.one_of(st.none(), st.floats(0.01, 3)))
def test_agrees_with_torch_sdpa(case, causal, scale):
    torch = pytest.importorskip("torch")
    q, k, v, mask = case
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal, scale=scale)
    allowed = np.ones(weights.shape, dtype=bool) if mask is None else np.broadcast_to(mask, weights.shape).copy()
    if causal:  # ours aligns the diagonal bottom right; give PyTorch the same mask explicitly
        allowed = allowed & np.tril(np.ones(allowed.shape[-2:], dtype=bool), k=k.shape[-2] - q.shape[-2])
    expected = torch.nn.functional.scaled_dot_product_attention(
        *(torch.from_numpy(a) for a in (q, k, v)), attn_mask=torch.from_numpy(allowed), scale=scale).numpy()
    has_key = allowed.any(axis=-1)  # a query with no key: zeros here, NaN in older PyTorch
    expected = np.where(has_key[..., None], expected, 0)
    np.testing.assert_allclose(out, np.broadcast_to(expected, out.shape), rtol=1e-10, atol=1e-12)
    if causal and q.shape[-2] == k.shape[-2] and mask is None:  # here is_causal means the same as ours
        expected = torch.nn.functional.scaled_dot_product_attention(
            *(torch.from_numpy(a) for a in (q, k, v)), is_causal=True, scale=scale)
        np.testing.assert_allclose(out, expected.numpy(), rtol=1e-10, atol=1e-12)


@FAST
@given(st.integers(1, 3), st.integers(1, 6), st.integers(1, 6), st.sampled_from([(4, 1), (4, 2), (6, 3), (8, 4)]),
       st.booleans(), st.integers(0, 2**31 - 1))
def test_numpy_and_nn_and_torch_multi_head_agree(batch, n_q, n_k, dims, causal, seed):
    torch = pytest.importorskip("torch")
    ann = pytest.importorskip("attn_course.nn")
    from attn_course import MultiHeadParams
    d, h = dims
    torch.manual_seed(seed)
    m = torch.nn.MultiheadAttention(d, h, batch_first=True).double().eval()
    torch.nn.init.normal_(m.in_proj_bias)
    x_q, x_kv = torch.randn(batch, n_q, d, dtype=torch.float64), torch.randn(batch, n_k, d, dtype=torch.float64)
    allowed = torch.rand(batch, n_q, n_k) < 0.7
    if causal:
        allowed &= torch.ones(n_q, n_k, dtype=torch.bool).tril(n_k - n_q)
    allowed[..., 0] = True  # nn.MultiheadAttention's output and weights are NaN for a query with no key
    # PyTorch's attn_mask is True = NOT allowed and one (n_q, n_k) mask per (batch x head).
    expected, expected_weights = m(x_q, x_kv, x_kv, attn_mask=(~allowed).repeat_interleave(h, dim=0),
                                   average_attn_weights=False)
    with torch.no_grad():
        out, weights = ann.MultiHeadAttention.from_torch(m)(x_q, x_kv, mask=allowed)
    np_out, np_weights = multi_head_attention(x_q.numpy(), x_kv.numpy(), MultiHeadParams.from_torch(m), h,
                                              mask=allowed.numpy())
    for got_out, got_weights in ((out.numpy(), weights.numpy()), (np_out, np_weights)):
        np.testing.assert_allclose(got_out, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got_weights, expected_weights.detach().numpy(), rtol=1e-10, atol=1e-12)
