"""The hand-written backward pass equals torch autograd (float64) and finite differences."""
import numpy as np
import pytest

from attn_course import (MultiHeadParams, gradient_check, multi_head_attention, multi_head_attention_backward,
                         numerical_gradient, scaled_dot_product_attention, scaled_dot_product_attention_backward,
                         softmax, softmax_backward)

torch = pytest.importorskip("torch")


def qkv(batch=(2,), n_q=4, n_k=5, d_k=3, d_v=2, seed=0):
    rng = np.random.default_rng(seed)
    q, k, v = (rng.standard_normal((*batch, n, d)) for n, d in ((n_q, d_k), (n_k, d_k), (n_k, d_v)))
    return q, k, v, rng.standard_normal((*batch, n_q, d_v))


def torch_grads(f, *arrays):
    """Gradients of sum(f(*tensors)) ... as NumPy arrays; f returns the scalar loss."""
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    f(*tensors).backward()
    return [t.grad.numpy() for t in tensors]


def torch_attention(q, k, v, allowed, scale):
    scores = q @ k.transpose(-2, -1) * scale
    if allowed is not None:
        scores = scores.masked_fill(~allowed, -torch.inf)
    weights = torch.softmax(scores, dim=-1)
    if allowed is not None:
        weights = torch.where(allowed, weights, 0.0)
    return weights @ v


def test_softmax_backward():
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal((2, 3, 6)), rng.standard_normal((2, 3, 6))
    for axis in (-1, 1):
        expected, = torch_grads(lambda t: (torch.softmax(t, dim=axis) * torch.from_numpy(g)).sum(), x)
        got = softmax_backward(softmax(x, axis=axis), g, axis=axis)
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
        assert gradient_check(lambda x_: (softmax(x_, axis=axis) * g).sum(), x, got) < 1e-8


def test_softmax_backward_through_a_mask_is_zero_there():
    rng = np.random.default_rng(1)
    x, g = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    mask = np.array([True, False, True, True, False])
    got = softmax_backward(softmax(x, mask=mask), g)
    assert np.all(got[:, ~mask] == 0)
    assert gradient_check(lambda x_: (softmax(x_, mask=mask) * g).sum(), x, got) < 1e-8


@pytest.mark.parametrize("case", ["plain", "mask", "causal", "scale", "broadcast", "2-D", "empty row"])
def test_attention_backward_matches_autograd_and_finite_differences(case):
    q, k, v, g = qkv(batch=() if case == "2-D" else (2,))
    mask, causal, scale = None, False, None
    if case == "mask":
        mask = np.random.default_rng(5).random((2, 4, 5)) < 0.6
        mask[..., 0] = True
    if case == "empty row":
        mask = np.ones((4, 5), dtype=bool)
        mask[1] = False
    if case == "causal":
        causal = True
    if case == "scale":
        scale = 0.37
    if case == "broadcast":  # one set of keys and values for both batch elements
        k, v = k[:1], v[:1]
    allowed = np.ones((4, 5), dtype=bool) if mask is None else mask
    if causal:
        allowed = allowed & np.tril(np.ones((4, 5), dtype=bool), k=1)  # n_k - n_q = 1: aligned bottom right

    dq, dk, dv = scaled_dot_product_attention_backward(q, k, v, g, mask=mask, causal=causal, scale=scale)
    assert dq.shape == q.shape and dk.shape == k.shape and dv.shape == v.shape
    t_scale = 1 / np.sqrt(3) if scale is None else scale
    expected = torch_grads(lambda a, b, c: (torch_attention(a, b, c, torch.from_numpy(allowed), t_scale)
                                            * torch.from_numpy(g)).sum(), q, k, v)
    for got, want in zip((dq, dk, dv), expected):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12)

    def loss(q_, k_, v_):
        return (scaled_dot_product_attention(q_, k_, v_, mask=mask, causal=causal, scale=scale)[0] * g).sum()
    assert gradient_check(lambda x: loss(x, k, v), q, dq) < 1e-8
    assert gradient_check(lambda x: loss(q, x, v), k, dk) < 1e-8
    assert gradient_check(lambda x: loss(q, k, x), v, dv) < 1e-8


def test_fully_masked_query_gets_no_gradient():
    q, k, v, g = qkv(batch=())
    mask = np.ones((4, 5), dtype=bool)
    mask[2] = False
    dq, dk, dv = scaled_dot_product_attention_backward(q, k, v, g, mask=mask)
    assert np.all(dq[2] == 0)
    assert all(np.isfinite(a).all() for a in (dq, dk, dv))


def test_float32_backward():
    q, k, v, g = (a.astype(np.float32) for a in qkv())
    grads = scaled_dot_product_attention_backward(q, k, v, g)
    expected = scaled_dot_product_attention_backward(*(a.astype(np.float64) for a in (q, k, v, g)))
    for got, want in zip(grads, expected):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_gradient_check_catches_a_wrong_gradient():
    """A backward pass that forgets the 1/sqrt(d_k) of the scores must fail the check."""
    q, k, v, g = qkv(batch=())
    _, weights = scaled_dot_product_attention(q, k, v)
    ds = softmax_backward(weights, g @ v.T)  # missing * scale
    assert gradient_check(lambda x: (scaled_dot_product_attention(x, k, v)[0] * g).sum(), q, ds @ k) > 0.1


def test_numerical_gradient_of_a_known_function():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    np.testing.assert_allclose(numerical_gradient(lambda y: (y ** 3).sum(), x), 3 * x ** 2, rtol=1e-8)
    np.testing.assert_array_equal(x, [[1.0, -2.0], [0.5, 3.0]])  # x itself is not perturbed


def multi_head_case(self_attention, bias, seed=0):
    torch.manual_seed(seed)
    m = torch.nn.MultiheadAttention(6, 3, bias=bias, batch_first=True).double()
    if bias:
        torch.nn.init.normal_(m.in_proj_bias)
        torch.nn.init.normal_(m.out_proj.bias)
    x_q = torch.randn(2, 4, 6, dtype=torch.float64, requires_grad=True)
    x_kv = x_q if self_attention else torch.randn(2, 5, 6, dtype=torch.float64, requires_grad=True)
    g = torch.randn(2, 4, 6, dtype=torch.float64)
    return m, x_q, x_kv, g


@pytest.mark.parametrize("self_attention", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_multi_head_backward_matches_autograd(self_attention, bias):
    m, x_q, x_kv, g = multi_head_case(self_attention, bias)
    n_k = x_kv.shape[1]
    keys = np.arange(n_k) < np.array([[n_k], [2]])  # (2, n_k): the second sequence has 2 real keys
    out, _ = m(x_q, x_kv, x_kv, key_padding_mask=torch.from_numpy(~keys), need_weights=False)  # True = padding
    (out * g).sum().backward()

    p = MultiHeadParams.from_torch(m)
    x_q_np, x_kv_np = x_q.detach().numpy(), x_kv.detach().numpy()
    dx_q, dx_kv, grads = multi_head_attention_backward(x_q_np, x_kv_np, p, 3, g.numpy(), mask=keys[:, None, :])
    if self_attention:
        np.testing.assert_allclose(dx_q + dx_kv, x_q.grad.numpy(), rtol=1e-8, atol=1e-12)
    else:
        np.testing.assert_allclose(dx_q, x_q.grad.numpy(), rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(dx_kv, x_kv.grad.numpy(), rtol=1e-8, atol=1e-12)
    dW = np.concatenate([grads.W_q.T, grads.W_k.T, grads.W_v.T])  # back to PyTorch's packed (out, in) layout
    np.testing.assert_allclose(dW, m.in_proj_weight.grad.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(grads.W_o.T, m.out_proj.weight.grad.numpy(), rtol=1e-8, atol=1e-12)
    if bias:
        db = np.concatenate([grads.b_q, grads.b_k, grads.b_v])
        np.testing.assert_allclose(db, m.in_proj_bias.grad.numpy(), rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(grads.b_o, m.out_proj.bias.grad.numpy(), rtol=1e-8, atol=1e-12)
    else:
        assert grads.b_q is None and grads.b_o is None


def test_multi_head_backward_passes_the_gradient_check():
    m, x_q, x_kv, g = multi_head_case(self_attention=False, bias=True, seed=1)
    p = MultiHeadParams.from_torch(m)
    x_q, x_kv, g = x_q.detach().numpy(), x_kv.detach().numpy(), g.numpy()
    dx_q, dx_kv, grads = multi_head_attention_backward(x_q, x_kv, p, 3, g, causal=True)

    def loss(x_q_=x_q, x_kv_=x_kv, **changed):
        params = MultiHeadParams(**{**vars(p), **changed})
        return (multi_head_attention(x_q_, x_kv_, params, 3, causal=True)[0] * g).sum()
    assert gradient_check(lambda x: loss(x_q_=x), x_q, dx_q) < 1e-8
    assert gradient_check(lambda x: loss(x_kv_=x), x_kv, dx_kv) < 1e-8
    for name in ("W_q", "W_k", "W_v", "W_o", "b_q", "b_v", "b_o"):
        assert gradient_check(lambda w: loss(**{name: w}), getattr(p, name), getattr(grads, name)) < 1e-8, name
    # Keys are compared with queries only through differences: softmax ignores a shift, so b_k gets no gradient.
    np.testing.assert_allclose(grads.b_k, 0, atol=1e-12)


@pytest.mark.parametrize("call, error, match", [
    (lambda q, k, v, g: scaled_dot_product_attention_backward(q, k, v, g[..., :1]), ValueError,
     r"grad_output must have shape the output's \(..., n_q, d_v\) = \(2, 4, 2\), got \(2, 4, 1\)"),
    (lambda q, k, v, g: scaled_dot_product_attention_backward(q, k[..., :2], v, g), ValueError,
     r"q and k must share the last dimension d_k"),
    (lambda q, k, v, g: scaled_dot_product_attention_backward(q, k, v, g * np.nan), ValueError,
     r"grad_output contains NaN"),
    (lambda q, k, v, g: softmax_backward(q, g), ValueError,
     r"grad_weights must have shape weights.shape = \(2, 4, 3\), got \(2, 4, 2\)"),
    (lambda q, k, v, g: gradient_check(lambda x: x.sum(), q, g), ValueError,
     r"grad must have shape x.shape = \(2, 4, 3\), got \(2, 4, 2\)"),
    (lambda q, k, v, g: numerical_gradient(lambda x: x.sum(), q.astype(int)), TypeError,
     r"x must be a floating-point array"),
])
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call(*qkv())
