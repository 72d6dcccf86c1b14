"""Multi-head attention in NumPy: heads are independent attentions, and it equals torch.nn.MultiheadAttention."""
import numpy as np
import pytest

from attn_course import (MultiHeadParams, init_params, merge_heads, multi_head_attention, padding_mask,
                         scaled_dot_product_attention, split_heads)


def random_params(d, seed=0, bias=True):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((4, d, d)) / np.sqrt(d)
    b = rng.standard_normal((4, d)) if bias else [None] * 4
    return MultiHeadParams(*W, *b)


def reference(x_q, x_kv, p, h, allowed=None):
    """Per batch element, per head, by loops: concat(head_1 ... head_h) W_o + b_o."""
    d_head = p.d_model // h
    outputs, weights = [], []
    for b in range(len(x_q)):
        q, k, v = x_q[b] @ p.W_q + p.b_q, x_kv[b] @ p.W_k + p.b_k, x_kv[b] @ p.W_v + p.b_v
        heads, ws = [], []
        for i in range(h):
            cols = slice(i * d_head, (i + 1) * d_head)
            mask = None if allowed is None else allowed[b]
            o, w = scaled_dot_product_attention(q[:, cols], k[:, cols], v[:, cols], mask=mask)
            heads.append(o)
            ws.append(w)
        outputs.append(np.concatenate(heads, axis=-1) @ p.W_o + p.b_o)
        weights.append(ws)
    return np.array(outputs), np.array(weights)


def test_split_and_merge_heads():
    x = np.arange(2 * 3 * 8, dtype=float).reshape(2, 3, 8)
    heads = split_heads(x, 4)
    assert heads.shape == (2, 4, 3, 2)
    np.testing.assert_array_equal(heads[:, 1], x[..., 2:4])  # head 1 owns columns 2 and 3
    np.testing.assert_array_equal(merge_heads(heads), x)


def test_self_attention_matches_per_head_loops():
    x = np.random.default_rng(1).standard_normal((2, 5, 8))
    p = random_params(8)
    out, weights = multi_head_attention(x, x, p, n_heads=4)
    ref_out, ref_weights = reference(x, x, p, 4)
    assert out.shape == (2, 5, 8) and weights.shape == (2, 4, 5, 5)
    np.testing.assert_allclose(weights, ref_weights, rtol=1e-12)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12)


def test_cross_attention_with_padding():
    rng = np.random.default_rng(2)
    x_q, x_kv = rng.standard_normal((3, 4, 6)), rng.standard_normal((3, 7, 6))
    p = random_params(6, seed=1)
    keys = padding_mask([7, 2, 5], 7)  # (3, 1, 7)
    out, weights = multi_head_attention(x_q, x_kv, p, n_heads=2, mask=keys)
    assert out.shape == (3, 4, 6) and weights.shape == (3, 2, 4, 7)
    assert np.all(weights[1, :, :, 2:] == 0) and np.all(weights[2, :, :, 5:] == 0)
    ref_out, ref_weights = reference(x_q, x_kv, p, 2, allowed=keys)
    np.testing.assert_allclose(weights, ref_weights, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(out, ref_out, rtol=1e-12)


def test_padding_content_does_not_matter():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 6, 8))
    p = random_params(8, seed=2)
    mask = padding_mask([4], 6)
    out, _ = multi_head_attention(x, x, p, 2, mask=mask)
    x_changed = x.copy()
    x_changed[:, 4:] = rng.standard_normal((1, 2, 8)) * 100
    out_changed, _ = multi_head_attention(x_changed, x_changed, p, 2, mask=mask)
    np.testing.assert_allclose(out_changed[:, :4], out[:, :4], rtol=1e-12)


def test_one_head_with_identity_projections_is_plain_attention():
    x = np.random.default_rng(4).standard_normal((5, 4))
    eye = np.eye(4)
    out, weights = multi_head_attention(x, x, MultiHeadParams(eye, eye, eye, eye), n_heads=1, causal=True)
    ref_out, ref_weights = scaled_dot_product_attention(x, x, x, causal=True)
    np.testing.assert_allclose(out, ref_out, rtol=1e-14)
    np.testing.assert_allclose(weights[0], ref_weights, rtol=1e-14)


def test_causal_applies_to_every_head():
    x = np.random.default_rng(5).standard_normal((2, 5, 8))
    _, weights = multi_head_attention(x, x, random_params(8), 4, causal=True)
    assert np.all(np.triu(weights, k=1) == 0)
    np.testing.assert_allclose(weights.sum(-1), 1, rtol=1e-13)


def test_float32_stays_float32():
    x = np.random.default_rng(6).standard_normal((2, 5, 8)).astype(np.float32)
    p = MultiHeadParams(*(getattr(random_params(8), f).astype(np.float32) for f in
                          ("W_q", "W_k", "W_v", "W_o", "b_q", "b_k", "b_v", "b_o")))
    out, weights = multi_head_attention(x, x, p, 2)
    assert out.dtype == np.float32 and weights.dtype == np.float32


def test_padding_mask():
    np.testing.assert_array_equal(padding_mask([3, 0, 1], 3),
                                  [[[1, 1, 1]], [[0, 0, 0]], [[1, 0, 0]]])
    assert padding_mask(np.array(2), 4).shape == (1, 4)


def test_init_params():
    p = init_params(16, np.random.default_rng(0))
    assert all(getattr(p, w).shape == (16, 16) for w in ("W_q", "W_k", "W_v", "W_o"))
    assert all(np.all(getattr(p, b) == 0) for b in ("b_q", "b_k", "b_v", "b_o"))
    limit = np.sqrt(6 / 32)
    assert np.abs(p.W_q).max() <= limit and np.abs(p.W_q).max() > 0.9 * limit
    np.testing.assert_array_equal(init_params(16, 7).W_o, init_params(16, 7).W_o)  # a seed is enough
    assert not np.array_equal(init_params(16, 7).W_q, init_params(16, 7).W_k)
    no_bias = init_params(4, 0, bias=False)
    assert no_bias.b_q is None and no_bias.b_o is None
    x = np.random.default_rng(1).standard_normal((3, 4))
    out, _ = multi_head_attention(x, x, no_bias, 2)
    assert out.shape == (3, 4)


def test_params_from_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    m = torch.nn.MultiheadAttention(8, 2, batch_first=True).double()
    torch.nn.init.normal_(m.in_proj_bias)
    torch.nn.init.normal_(m.out_proj.bias)
    p = MultiHeadParams.from_torch(m)
    x = torch.randn(3, 5, 8, dtype=torch.float64)
    expected, expected_weights = m(x, x, x, average_attn_weights=False)
    out, weights = multi_head_attention(x.numpy(), x.numpy(), p, 2)
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(weights, expected_weights.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("call, error, match", [
    (lambda x, p: multi_head_attention(x, x, p, 3), ValueError,
     r"d_model must be divisible by n_heads: got d_model = 8, n_heads = 3"),
    (lambda x, p: multi_head_attention(x, x, p, 0), ValueError, r"n_heads must be a positive integer, got 0"),
    (lambda x, p: multi_head_attention(x, x, p, 2.0), TypeError, r"n_heads must be a positive integer, got 2.0"),
    (lambda x, p: multi_head_attention(x[..., :6], x, p, 2), ValueError,
     r"x_q must have last dimension d_model = 8 \(the size of params\), got shape \(2, 5, 6\)"),
    (lambda x, p: multi_head_attention(x, x[:, :, :4], p, 2), ValueError, r"x_kv must have last dimension d_model = 8"),
    (lambda x, p: multi_head_attention(x, x, {"W_q": 1}, 2), TypeError,
     r"params must be a MultiHeadParams \(see init_params\), got dict"),
    (lambda x, p: multi_head_attention(x, x, p, 2, mask=np.ones((5, 4), bool)), ValueError,
     r"mask of shape \(5, 4\) does not broadcast to \(2, 5, 5\)"),
    (lambda x, p: multi_head_attention(x, x, p, 2, mask=np.ones((5, 5))), TypeError, r"mask must be a boolean array"),
    (lambda x, p: multi_head_attention(x, x[:1].repeat(3, 0), p, 2), ValueError,
     r"leading \(batch\) dimensions of x_q \(2,\), x_kv \(3,\) do not broadcast"),
    (lambda x, p: multi_head_attention(x * np.nan, x, p, 2), ValueError, r"x_q contains NaN"),
    (lambda x, p: MultiHeadParams(p.W_q, p.W_k[:4], p.W_v, p.W_o), ValueError,
     r"W_k must have shape \(d_model, d_model\) = \(8, 8\), got \(4, 8\)"),
    (lambda x, p: MultiHeadParams(p.W_q, p.W_k, p.W_v, p.W_o, b_o=np.ones(3)), ValueError,
     r"b_o must have shape \(d_model,\) = \(8,\), got \(3,\)"),
    (lambda x, p: MultiHeadParams(p.W_q.astype(int), p.W_k, p.W_v, p.W_o), TypeError, r"W_q must be a floating-point"),
    (lambda x, p: split_heads(x, 3), ValueError, r"d_model must be divisible by n_heads: got d_model = 8, n_heads = 3"),
    (lambda x, p: padding_mask([1, 5], 4), ValueError, r"lengths must lie in \[0, n\] = \[0, 4\], got 1 ... 5"),
    (lambda x, p: padding_mask([1.5], 4), TypeError, r"lengths must be integers, got dtype float64"),
    (lambda x, p: padding_mask([1], 0), ValueError, r"n must be a positive integer, got 0"),
    (lambda x, p: init_params(0, 0), ValueError, r"d_model must be a positive integer, got 0"),
])
def test_bad_input(call, error, match):
    x = np.random.default_rng(0).standard_normal((2, 5, 8))
    with pytest.raises(error, match=match):
        call(x, random_params(8))
