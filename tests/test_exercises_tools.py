"""The checkers of chapter 7 accept right answers and reject each typical wrong one with the message that names it."""
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch.nn.attention.bias import causal_lower_right  # noqa: E402

from attn_course.exercises import check_cached_attention, check_capture_weights, check_mha_mask  # noqa: E402
from attn_course.nn import causal_mask  # noqa: E402
from conftest import assert_rejects, reference


def test_importing_the_checkers_does_not_import_torch():
    import subprocess
    import sys
    code = "import sys, attn_course.exercises; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# ---------------------------------------------------------------------------------------------------
# Exercise 7.1: mask conventions

@pytest.mark.parametrize("fn, kind", [
    (lambda allowed: ~allowed, "~allowed"),
    (lambda allowed: allowed.logical_not(), "~allowed"),
    (lambda allowed: torch.zeros(allowed.shape).masked_fill(~allowed, float("-inf")), "-inf"),
])
def test_mha_mask_accepts_right_answers(fn, kind):
    feedback = check_mha_mask(fn)
    assert feedback and kind in feedback.message and repr(feedback).startswith("✔")


@pytest.mark.parametrize("fn, fragments", [
    (lambda allowed: allowed, ["unchanged", "invert it"]),
    (lambda allowed: (~allowed).T, ["transposed", "(n_q, n_k)"]),
    (lambda allowed: torch.zeros(allowed.shape).masked_fill(allowed, float("-inf")), ["inverted"]),
    (lambda allowed: allowed.float(), ["ADDED", "-inf"]),
    (lambda allowed: (~allowed).float(), ["ADDED", "-inf"]),
    (lambda allowed: torch.zeros(allowed.shape).masked_fill(~allowed, -1.0), ["-inf", "hidden entries"]),
    (lambda allowed: torch.ones(allowed.shape).masked_fill(~allowed, float("-inf")), ["must be 0"]),
    (lambda allowed: 1 - allowed.int(), ["bool or a float", "int32"]),
    (lambda allowed: 1 - allowed, ["RuntimeError", "~"]),
    (lambda allowed: (~allowed).numpy(), ["torch.Tensor", "ndarray"]),
    (lambda allowed: ~allowed[:, :4], ["shape (3, 4)"]),
    (lambda allowed: torch.zeros_like(allowed), ["neither the mask nor its inverse"]),
])
def test_mha_mask_rejects_typical_mistakes(fn, fragments):
    assert_rejects(check_mha_mask(fn), *fragments)


# ---------------------------------------------------------------------------------------------------
# Exercise 7.2: causal attention with a cache

def cached_right(q, k, v):
    return F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(q.shape[-2], k.shape[-2], device=q.device))


def cached_with_bias(q, k, v):
    return F.scaled_dot_product_attention(q, k, v, attn_mask=causal_lower_right(q.shape[-2], k.shape[-2]))


def cached_by_hand(q, k, v):
    n_q, n_k = q.shape[-2], k.shape[-2]
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    allowed = torch.ones(n_q, n_k, dtype=torch.bool).tril(diagonal=n_k - n_q)
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1) @ v


@pytest.mark.parametrize("fn", [cached_right, cached_with_bias, cached_by_hand])
def test_cached_attention_accepts_right_answers(fn):
    feedback = check_cached_attention(fn)
    assert feedback and "bottom right" in feedback.message


def shifted_wrong_way(q, k, v):
    n_q, n_k = q.shape[-2], k.shape[-2]
    return F.scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(n_q, n_k, dtype=torch.bool).tril(n_q - n_k))


@pytest.mark.parametrize("fn, fragments", [
    (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), ["TOP-LEFT", "n_q = 1", "causal_lower_right"]),
    (lambda q, k, v: F.scaled_dot_product_attention(q, k, v), ["no mask"]),
    (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=~causal_mask(q.shape[-2], k.shape[-2])),
     ["inverted", "True means MAY attend"]),
    (shifted_wrong_way, ["wrong way", "offset is n_k - n_q"]),
    (lambda q, k, v: (cached_right(q, k, v), None), ["only the output tensor"]),
    (lambda q, k, v: cached_right(q, k, v)[..., :1, :], ["expected an output of shape"]),
    (lambda q, k, v: cached_right(q, k, v) * 2, ["differs from causal attention"]),
])
def test_cached_attention_rejects_typical_mistakes(fn, fragments):
    assert_rejects(check_cached_attention(fn), *fragments)


# ---------------------------------------------------------------------------------------------------
# Exercise 7.3: capture weights with hooks

def _force_weights(module, args, kwargs):
    kwargs["need_weights"] = True
    kwargs["average_attn_weights"] = False
    return args, kwargs


def capture_right(encoder, x):
    captured, handles = [], []
    for layer in encoder.layers:
        handles.append(layer.self_attn.register_forward_pre_hook(_force_weights, with_kwargs=True))
        handles.append(layer.self_attn.register_forward_hook(lambda m, a, out: captured.append(out[1].detach())))
    try:
        with torch.no_grad():
            encoder(x)
    finally:
        for h in handles:
            h.remove()
    return captured


@pytest.mark.parametrize("fn", [capture_right, reference(check_capture_weights)])
def test_capture_weights_accepts_right_answers(fn):
    feedback = check_capture_weights(fn)
    assert feedback and "no hook left behind" in feedback.message


def _capture(encoder, x, *, pre=None, target=lambda layer: layer.self_attn, keep=lambda out: out[1], remove=True,
             layers=None, into=None):
    captured = [] if into is None else into
    handles = []
    for layer in (encoder.layers if layers is None else layers(encoder.layers)):
        if pre is not None:
            handles.append(target(layer).register_forward_pre_hook(pre, with_kwargs=True))
        handles.append(target(layer).register_forward_hook(lambda m, a, out: captured.append(keep(out))))
    with torch.no_grad():
        encoder(x)
    if remove:
        for h in handles:
            h.remove()
    return captured


def _average(module, args, kwargs):
    kwargs["need_weights"] = True
    return args, kwargs


_STALE = []


@pytest.mark.parametrize("fn, fragments", [
    (lambda e, x: _capture(e, x, keep=lambda out: out[1].detach()), ["NoneType", "need_weights", "pre-hook"]),
    (lambda e, x: _capture(e, x), ["None", "need_weights=False"]),
    (lambda e, x: _capture(e, x, pre=_average), ["MEAN over the heads", "average_attn_weights=False"]),
    (lambda e, x: _capture(e, x, pre=_force_weights, remove=False), ["still registered", "handle.remove()"]),
    (lambda e, x: _capture(e, x, target=lambda layer: layer, keep=lambda out: out), ["not the weights"]),
    (lambda e, x: _capture(e, x, pre=_force_weights, keep=lambda out: out[0]), ["(batch, n, d_model)"]),
    (lambda e, x: _capture(e, x, pre=_force_weights, layers=lambda ls: ls[:1]), ["one tensor per layer (2), got 1"]),
    (lambda e, x: capture_right(e, x)[::-1], ["reverse order"]),
    (lambda e, x: _capture(e, x, pre=_force_weights)[0], ["list with one tensor per layer"]),
    (lambda e, x: [], ["nothing was captured"]),
    (lambda e, x: _capture(e, x, pre=_force_weights, into=_STALE)[:2], ["second one", "fresh list"]),
])
def test_capture_weights_rejects_typical_mistakes(fn, fragments):
    _STALE.clear()
    assert_rejects(check_capture_weights(fn), *fragments)
