"""Chapter 5's checkers on what the registry's typical mistakes do not cover: right answers in other forms,
answers that raise or return the wrong thing, the reference against PyTorch, and the random state. The
wrong answers students write are in the registry (attn_course/exercises/practice.py) and run by
tests/test_exercise_contract.py."""
import math
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from attn_course.exercises import check_key_padding_mask, check_multi_head_attention, check_split_heads  # noqa: E402
from attn_course.exercises.practice import _mha_case, reference_multi_head_attention  # noqa: E402
from conftest import assert_accepts, assert_rejects, reference


def test_importing_the_exercises_does_not_import_torch():
    code = "import sys, attn_course.exercises; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------------------
# Exercise 5.1: key_padding_mask

@pytest.mark.parametrize("fn", [
    lambda mask: ~torch.from_numpy(mask[:, 0, :]),
    lambda mask: torch.as_tensor(~mask).squeeze(1),
    lambda mask: torch.tensor(mask).logical_not().flatten(1),
])
def test_padding_mask_right(fn):
    assert_accepts(check_key_padding_mask(fn), "True marks the padding", "weight 0")


@pytest.mark.parametrize("fn, fragments", [
    (lambda mask: torch.ones(3, 1, dtype=torch.bool), ["shape (3, 1)", "(batch, n) = (3, 5)"]),
    (lambda mask: 1 / 0, ["raised ZeroDivisionError"]),
])
def test_padding_mask_wrong(fn, fragments):
    assert_rejects(check_key_padding_mask(fn), *fragments)


# ---------------------------------------------------------------------------------------------------
# Exercise 5.2: split and merge heads

split_right, merge_right = reference(check_split_heads)  # the registry's: attn_course.multihead's


def split_no_transpose(x, n_heads):
    b, n, d = x.shape
    return x.reshape(b, n_heads, n, d // n_heads)


def merge_no_transpose(x):
    b, h, n, d_head = x.shape
    return x.reshape(b, n, h * d_head)


def test_split_right():
    assert_accepts(check_split_heads(split_right, merge_right), "head i the columns", "merge undoes it")
    split = lambda x, h: x.unflatten(-1, (h, -1)).transpose(-3, -2)
    merge = lambda x: x.transpose(-3, -2).flatten(-2)
    assert_accepts(check_split_heads(split, merge))


@pytest.mark.parametrize("split, merge, fragments", [
    (lambda x, h: split_right(x, h) + 1, merge_right, ["split: the shape is right but"]),
    (split_right, lambda x: merge_right(x).flip(1), ["merge: the shape is right but"]),
    (lambda x, h: None.shape, merge_right, ["split: calling your function raised AttributeError"]),
])
def test_split_wrong(split, merge, fragments):
    assert_rejects(check_split_heads(split, merge), *fragments)


def test_roundtrip_does_not_fool_the_checker():
    # Both wrong in the same way: merge(split(x)) == x, yet every head mixes positions.
    feedback = check_split_heads(split_no_transpose, merge_no_transpose)
    assert_rejects(feedback, "split: one head gets pieces", "merge(split(x)) == x does not prove them right")
    assert "does not prove" not in check_split_heads(split_no_transpose, merge_right).message


# ---------------------------------------------------------------------------------------------------
# Exercise 5.3: multi-head attention from nn.MultiheadAttention's weights

def mha(x, m, key_padding_mask=None, *, scale=True, split="right", out_proj=True, bias=True, transpose=True,
        softmax_dim=-1, mask="right", chunks=(0, 1, 2), merge="right"):
    """A learner's implementation, with switches for each typical mistake (written independently of the checker)."""
    b, n, d = x.shape
    h = m.num_heads
    d_head = d // h
    W = m.in_proj_weight.chunk(3)
    B = m.in_proj_bias.chunk(3)
    W_q, W_k, W_v = (W[i] for i in chunks)
    b_q, b_k, b_v = (B[i] for i in chunks)

    def linear(inp, weight, b_):
        out = inp @ (weight.T if transpose else weight)
        return out + b_ if bias else out

    def heads(t):
        if split == "no_transpose":
            return t.view(b, h, n, d_head)
        if split == "interleaved":
            return t.view(b, n, d_head, h).permute(0, 3, 1, 2)
        return t.view(b, n, h, d_head).transpose(1, 2)

    q, k, v = heads(linear(x, W_q, b_q)), heads(linear(x, W_k, b_k)), heads(linear(x, W_v, b_v))
    scores = q @ k.transpose(-2, -1)
    if scale == "d_model":
        scores = scores / math.sqrt(d)
    elif scale:
        scores = scores / math.sqrt(d_head)
    if key_padding_mask is not None and mask != "ignored":
        hide = key_padding_mask if mask == "right" else ~key_padding_mask
        scores = scores.masked_fill(hide[:, None, None, :], float("-inf"))
    o = torch.softmax(scores, dim=softmax_dim) @ v
    if split == "interleaved":
        o = o.permute(0, 2, 3, 1).reshape(b, n, d)
    elif merge == "no_transpose":
        o = o.reshape(b, n, d)
    else:
        o = o.transpose(1, 2).reshape(b, n, d)
    return linear(o, m.out_proj.weight, m.out_proj.bias) if out_proj else o


def test_reference_is_what_torch_computes():
    m, x, key_padding_mask = _mha_case()
    with torch.no_grad():
        torch.testing.assert_close(reference_multi_head_attention(x, m), m(x, x, x, need_weights=False)[0])
        torch.testing.assert_close(reference_multi_head_attention(x, m, key_padding_mask),
                                   m(x, x, x, key_padding_mask=key_padding_mask, need_weights=False)[0])


def test_mha_right():
    assert_accepts(check_multi_head_attention(mha), "key_padding_mask respected")
    # Other right answers: PyTorch's own module, and F.scaled_dot_product_attention for the core.
    assert_accepts(check_multi_head_attention(lambda x, m, key_padding_mask=None:
                                              m(x, x, x, key_padding_mask=key_padding_mask)))

    def with_sdpa(x, m, key_padding_mask=None):
        b, n, d = x.shape
        q, k, v = F.linear(x, m.in_proj_weight, m.in_proj_bias).chunk(3, dim=-1)
        q, k, v = (t.unflatten(-1, (m.num_heads, -1)).transpose(1, 2) for t in (q, k, v))
        allowed = None if key_padding_mask is None else ~key_padding_mask[:, None, None, :]
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        return m.out_proj(o.transpose(1, 2).flatten(-2))
    assert_accepts(check_multi_head_attention(with_sdpa))


def test_mha_right_without_mask_support_gets_a_hint():
    feedback = check_multi_head_attention(lambda x, m: mha(x, m))
    assert_accepts(feedback, "correct without a mask", "Going further")


def test_mha_wrong_shapes_and_types():
    assert_rejects(check_multi_head_attention(lambda x, m, key_padding_mask=None: mha(x, m).unflatten(-1, (3, 4)).transpose(1, 2)),
                   "shape (2, 3, 5, 4)", "those are the heads")
    assert_rejects(check_multi_head_attention(lambda x, m, key_padding_mask=None: mha(x, m).numpy()),
                   "must be a torch.Tensor")
    assert_rejects(check_multi_head_attention(lambda x, m, key_padding_mask=None: mha(x, m) * float("nan")),
                   "NaN or inf")
    assert_rejects(check_multi_head_attention(lambda x, m, key_padding_mask=None: mha(x, m, scale=False, out_proj=False)),
                   "differs from m(x, x, x)")
    assert_rejects(check_multi_head_attention(lambda x, m, key_padding_mask=None: torch.zeros(3)),
                   "shape (3,)")
    assert_rejects(check_multi_head_attention(lambda x, m: x.missing), "raised AttributeError")
    assert_rejects(check_multi_head_attention(
        lambda x, m, key_padding_mask=None: mha(x, m) if key_padding_mask is None else mha(x, m)[:, :1]),
        "must still be a tensor of shape (2, 5, 12)")
    assert_rejects(check_multi_head_attention(
        lambda x, m, key_padding_mask=None: mha(x, m) if key_padding_mask is None else mha(x, m) + 1),
        "wrong with key_padding_mask")


def test_checkers_leave_the_global_random_state_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    check_multi_head_attention(mha)
    check_key_padding_mask(lambda mask: ~torch.from_numpy(mask[:, 0, :]))
    assert torch.equal(before, torch.random.get_rng_state())
