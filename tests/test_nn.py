"""attn_course.nn: the same numbers as the NumPy functions and as PyTorch's own attention."""
import subprocess
import sys

import numpy as np
import pytest

import attn_course
from attn_course import MultiHeadParams, multi_head_attention

torch = pytest.importorskip("torch")
ann = pytest.importorskip("attn_course.nn")
F = torch.nn.functional


def test_importing_attn_course_does_not_import_torch():
    code = "import sys, attn_course; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def tensors(*shapes, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, dtype=dtype) for s in shapes]


@pytest.mark.parametrize("kwargs", [{}, {"causal": True}, {"scale": 0.3}, {"mask": "random"}, {"mask": "random", "causal": True}])
def test_attention_equals_numpy(kwargs):
    q, k, v = tensors((2, 3, 5, 4), (2, 3, 7, 4), (2, 3, 7, 6))
    if kwargs.get("mask") == "random":
        kwargs["mask"] = torch.rand(2, 1, 5, 7, generator=torch.Generator().manual_seed(1)) < 0.5
    out, weights = ann.scaled_dot_product_attention(q, k, v, **kwargs)
    np_kwargs = {key: (val.numpy() if key == "mask" else val) for key, val in kwargs.items()}
    ref_out, ref_weights = attn_course.scaled_dot_product_attention(q.numpy(), k.numpy(), v.numpy(), **np_kwargs)
    np.testing.assert_allclose(weights.numpy(), ref_weights, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(out.numpy(), ref_out, rtol=1e-12, atol=1e-15)


def test_attention_equals_torch_sdpa():
    q, k, v = tensors((2, 4, 6, 8), (2, 4, 6, 8), (2, 4, 6, 3))
    mask = torch.rand(2, 1, 6, 6, generator=torch.Generator().manual_seed(2)) < 0.5
    mask[..., 0] = True
    for kwargs, torch_kwargs in [({}, {}), ({"causal": True}, {"is_causal": True}),
                                 ({"mask": mask, "scale": 0.2}, {"attn_mask": mask, "scale": 0.2})]:
        out, _ = ann.scaled_dot_product_attention(q, k, v, **kwargs)
        torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, **torch_kwargs), rtol=1e-12, atol=1e-12)


def test_fully_masked_query_is_zero_and_has_a_finite_gradient():
    q, k, v = (t.requires_grad_() for t in tensors((5, 4), (6, 4), (6, 3)))
    mask = torch.ones(5, 6, dtype=torch.bool)
    mask[1] = False
    out, weights = ann.scaled_dot_product_attention(q, k, v, mask=mask)
    assert torch.all(weights[1] == 0) and torch.all(out[1] == 0)
    out.sum().backward()
    assert all(torch.isfinite(t.grad).all() for t in (q, k, v))
    assert torch.all(q.grad[1] == 0)


def test_float32_and_device_follow_the_inputs():
    q, k, v = tensors((3, 4), (5, 4), (5, 2), dtype=torch.float32)
    out, weights = ann.scaled_dot_product_attention(q, k, v, causal=True)
    assert out.dtype == weights.dtype == torch.float32 and out.device == q.device


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_equals_cpu():
    torch.manual_seed(0)
    m = ann.MultiHeadAttention(16, 4).double()
    x = torch.randn(2, 9, 16, dtype=torch.float64)
    mask = torch.rand(2, 9, 9) < 0.7
    expected, expected_weights = m(x, mask=mask, causal=True)
    out, weights = m.to("cuda")(x.to("cuda"), mask=mask.to("cuda"), causal=True)
    assert out.device.type == "cuda"
    torch.testing.assert_close(out.cpu(), expected, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(weights.cpu(), expected_weights, rtol=1e-10, atol=1e-12)


def torch_mha(batch_first, bias=True, seed=0, d=8, h=2):
    torch.manual_seed(seed)
    m = torch.nn.MultiheadAttention(d, h, bias=bias, batch_first=batch_first).double().eval()
    if bias:
        torch.nn.init.normal_(m.in_proj_bias)
        torch.nn.init.normal_(m.out_proj.bias)
    return m


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("cross", [False, True])
def test_from_torch_equals_torch_and_numpy(batch_first, bias, cross):
    m = torch_mha(batch_first, bias)
    x_q, = tensors((3, 5, 8), seed=1)
    x_kv, = tensors((3, 7, 8), seed=2) if cross else (x_q,)
    lengths = torch.tensor([x_kv.shape[1], 3, 1])
    real = torch.arange(x_kv.shape[1]) < lengths[:, None]  # (3, n_k) True = real token
    ours = ann.MultiHeadAttention.from_torch(m)

    def theirs_input(x):
        return x if batch_first else x.transpose(0, 1)  # (n, batch, d) when not batch first
    expected, expected_weights = m(theirs_input(x_q), theirs_input(x_kv), theirs_input(x_kv),
                                   key_padding_mask=~real, average_attn_weights=False)  # True = padding there
    expected = theirs_input(expected)
    out, weights = ours(x_q, x_kv if cross else None, mask=real[:, None, :])
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(weights, expected_weights, rtol=1e-12, atol=1e-12)

    np_out, np_weights = multi_head_attention(x_q.numpy(), x_kv.numpy(), MultiHeadParams.from_torch(m), 2,
                                              mask=real[:, None, :].numpy())
    np.testing.assert_allclose(np_out, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np_weights, expected_weights.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_from_torch_causal_float32():
    torch.manual_seed(3)
    m = torch.nn.MultiheadAttention(16, 4, batch_first=True).eval()
    x, = tensors((2, 6, 16), dtype=torch.float32)
    causal = torch.nn.Transformer.generate_square_subsequent_mask(6).isinf()  # True = masked, PyTorch's way
    expected, expected_weights = m(x, x, x, attn_mask=causal, average_attn_weights=False)
    out, weights = ann.MultiHeadAttention.from_torch(m)(x, causal=True)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(weights, expected_weights, rtol=1e-5, atol=1e-6)


def test_encoder_block_equals_torch_pre_norm_layer():
    torch.manual_seed(4)
    layer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True,
                                             norm_first=True).double().eval()
    for norm in (layer.norm1, layer.norm2):  # not the default ones and zeros, so that they are tested
        torch.nn.init.normal_(norm.weight)
        torch.nn.init.normal_(norm.bias)
    block = ann.EncoderBlock(8, 2, d_ff=16).double()
    block.attention = ann.MultiHeadAttention.from_torch(layer.self_attn)
    block.norm_1.load_state_dict(layer.norm1.state_dict())
    block.norm_2.load_state_dict(layer.norm2.state_dict())
    block.feed_forward[0].load_state_dict(layer.linear1.state_dict())
    block.feed_forward[2].load_state_dict(layer.linear2.state_dict())
    x, = tensors((3, 5, 8), seed=5)
    real = torch.arange(5) < torch.tensor([[5], [4], [2]])
    with torch.no_grad():
        expected = layer(x, src_key_padding_mask=~real)
        out, weights = block(x, mask=real[:, None, :])
    # PyTorch's fast path gives padded positions zeros; compare the real tokens.
    torch.testing.assert_close(out[real], expected[real], rtol=1e-10, atol=1e-10)
    assert weights.shape == (3, 2, 5, 5)


def test_modules_learn():
    """A sanity check that gradients reach every parameter."""
    torch.manual_seed(5)
    block = ann.EncoderBlock(8, 2)
    x, = tensors((2, 4, 8), dtype=torch.float32)
    block(x, causal=True)[0].square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
               for p in block.parameters())


@pytest.mark.parametrize("call, error, match", [
    (lambda q, k, v: ann.scaled_dot_product_attention(q.numpy(), k, v), TypeError,
     r"q must be a torch.Tensor, got ndarray; use attn_course's NumPy functions"),
    (lambda q, k, v: ann.scaled_dot_product_attention(q.long(), k, v), TypeError,
     r"q must be a floating-point tensor, got dtype torch.int64"),
    (lambda q, k, v: ann.scaled_dot_product_attention(q, k[..., :3], v), ValueError,
     r"q and k must share the last dimension d_k: q has shape \(2, 5, 4\), k has shape \(2, 6, 3\)"),
    (lambda q, k, v: ann.scaled_dot_product_attention(q, k, v[:, :4]), ValueError,
     r"k and v must have one value per key: k has 6 keys .* v has 4 values"),
    (lambda q, k, v: ann.scaled_dot_product_attention(q, k, v.float()), TypeError,
     r"q, k and v must share one dtype and device"),
    (lambda q, k, v: ann.scaled_dot_product_attention(q, k, v, mask=torch.ones(5, 6)), TypeError,
     r"mask must be a boolean tensor \(True = may attend\), got dtype torch.float32"),
    (lambda q, k, v: ann.scaled_dot_product_attention(q, k, v, mask=torch.ones(5, 5, dtype=torch.bool)), ValueError,
     r"mask of shape \(5, 5\) does not broadcast to \(2, 5, 6\)"),
    (lambda q, k, v: ann.scaled_dot_product_attention(q, k, v, scale=0), ValueError,
     r"scale must be a positive finite number, got 0"),
    (lambda q, k, v: ann.scaled_dot_product_attention(q, k, v, scale="x"), TypeError,
     r"scale must be a positive number, got 'x'"),
    (lambda q, k, v: ann.scaled_dot_product_attention(q[0, 0], k, v), ValueError,
     r"q must have at least 2 dimensions \(..., n, d\), got shape \(4,\)"),
    (lambda q, k, v: ann.MultiHeadAttention(8, 3), ValueError,
     r"d_model must be divisible by n_heads: got d_model = 8, n_heads = 3"),
    (lambda q, k, v: ann.MultiHeadAttention(4, 2).double()(q, k[..., :2]), ValueError,
     r"x_kv must have last dimension d_model = 4, got shape \(2, 6, 2\)"),
    (lambda q, k, v: ann.MultiHeadAttention.from_torch(torch.nn.Linear(4, 4)), TypeError,
     r"m must be a torch.nn.MultiheadAttention, got Linear"),
    (lambda q, k, v: ann.MultiHeadAttention.from_torch(torch.nn.MultiheadAttention(4, 2, kdim=3, vdim=3)), ValueError,
     r"m must have kdim = vdim = embed_dim .*got kdim=3, vdim=3, embed_dim=4"),
    (lambda q, k, v: ann.MultiHeadAttention.from_torch(torch.nn.MultiheadAttention(4, 2, add_bias_kv=True)),
     ValueError, r"m must not use add_bias_kv or add_zero_attn"),
    (lambda q, k, v: MultiHeadParams.from_torch(torch.nn.MultiheadAttention(4, 2, kdim=3, vdim=3)), ValueError,
     r"module must be a torch.nn.MultiheadAttention with kdim = vdim = embed_dim"),
    (lambda q, k, v: MultiHeadParams.from_torch(torch.nn.MultiheadAttention(4, 2, add_zero_attn=True)), ValueError,
     r"module must not use add_bias_kv or add_zero_attn"),
])
def test_bad_input(call, error, match):
    q, k, v = tensors((2, 5, 4), (2, 6, 4), (2, 6, 3))
    with pytest.raises(error, match=match):
        call(q, k, v)
