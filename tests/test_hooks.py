"""attn_course.hooks records the attention weights of any model, ours or PyTorch's, and leaves no hook behind."""
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from attn_course import hooks  # noqa: E402
from attn_course.nn import EncoderBlock, MultiHeadAttention  # noqa: E402


def _hooks_left(model):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_records_our_modules_and_matches_what_they_return():
    torch.manual_seed(0)
    model = nn.Sequential(EncoderBlock(8, 2), EncoderBlock(8, 2))
    x = torch.randn(3, 5, 8)
    with hooks.record_attention(model) as weights:
        h, w0 = model[0](x)
        _, w1 = model[1](h)
    assert list(weights) == ["0.attention", "1.attention"]
    assert torch.equal(weights["0.attention"][0], w0.detach()) and torch.equal(weights["1.attention"][0], w1.detach())
    assert _hooks_left(model) == 0


@pytest.mark.parametrize("norm_first", [False, True])
def test_records_torch_encoder_layers_per_head(norm_first):
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True, norm_first=norm_first)
    encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()
    x = torch.randn(3, 5, 8)
    with torch.no_grad():
        expected_out = encoder(x)  # the fast path, no hooks
        with hooks.record_attention(encoder) as weights:
            out = encoder(x)
    assert torch.allclose(out, expected_out, atol=1e-5)  # recording changes nothing in the result
    assert [tuple(w[0].shape) for w in weights.values()] == [(3, 2, 5, 5)] * 2
    first = encoder.layers[0]
    attention_input = first.norm1(x) if norm_first else x
    reference = MultiHeadAttention.from_torch(first.self_attn)(attention_input)[1]
    assert torch.allclose(weights["layers.0.self_attn"][0], reference, atol=1e-5)
    assert _hooks_left(encoder) == 0


def test_positional_need_weights_is_overridden_too():
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    x = torch.randn(1, 4, 8)
    with hooks.record_attention(mha) as weights:
        mha(x, x, x, None, False)  # need_weights=False by position
    assert tuple(weights[""][0].shape) == (1, 2, 4, 4)


def test_hooks_are_removed_when_the_block_raises():
    model = MultiHeadAttention(8, 2)
    with pytest.raises(RuntimeError, match="boom"):
        with hooks.record_attention(model):
            raise RuntimeError("boom")
    assert _hooks_left(model) == 0


def test_clear_errors():
    with pytest.raises(ValueError, match="no attention module"):
        with hooks.record_attention(nn.Linear(2, 2)):
            pass
    with pytest.raises(TypeError, match="torch.nn.Module"):
        hooks.attention_modules("model")
