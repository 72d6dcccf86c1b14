"""Chapter 7's checkers on what the registry's typical mistakes do not cover: right answers in other forms, answers
that raise, and hook mistakes that need a stateful helper. The wrong answers students write are in the registry
(attn_course/exercises/tools.py) and run by tests/test_exercise_contract.py."""
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


def test_mha_mask_reports_a_raising_answer():
    assert_rejects(check_mha_mask(lambda allowed: 1 - allowed), "RuntimeError")


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
    (lambda e, x: _capture(e, x, target=lambda layer: layer, keep=lambda out: out), ["not the weights"]),
    (lambda e, x: _capture(e, x, pre=_force_weights, layers=lambda ls: ls[:1]), ["one tensor per layer (2), got 1"]),
    (lambda e, x: [], ["nothing was captured"]),
    (lambda e, x: _capture(e, x, pre=_force_weights, into=_STALE)[:2], ["second one", "where your list is created"]),
])
def test_capture_weights_rejects_typical_mistakes(fn, fragments):
    _STALE.clear()
    assert_rejects(check_capture_weights(fn), *fragments)
