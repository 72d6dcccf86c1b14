"""Every checker accepts a right answer and rejects each typical wrong one with the message that names it."""
import numpy as np
import pytest

from attn_course import softmax
from attn_course.exercises import Feedback, check_attention
from conftest import reference


right = reference(check_attention)  # the registry's reference answer


def right_2d_only(q, k, v):
    w = softmax(q @ k.T / np.sqrt(q.shape[-1]))
    return w @ v, w


def unscaled(q, k, v):
    w = softmax(q @ k.T)
    return w @ v, w


def divided_by_d(q, k, v):
    w = softmax(q @ k.T / q.shape[-1])
    return w @ v, w


def overflowing(q, k, v):
    s = q @ k.T / np.sqrt(q.shape[-1])
    w = np.exp(s) / np.exp(s).sum(axis=-1, keepdims=True)
    return w @ v, w


def wrong_axis(q, k, v):
    w = softmax(q @ k.T / np.sqrt(q.shape[-1]), axis=0)
    return w @ v, w


def softmax_twice(q, k, v):
    w = softmax(softmax(q @ k.T / np.sqrt(q.shape[-1])))
    return w @ v, w


def transposed(q, k, v):
    w = softmax(k @ q.T / np.sqrt(q.shape[-1]), axis=0)
    return w.T @ v, w


def sums_keys(q, k, v):
    w = softmax(q @ k.T / np.sqrt(q.shape[-1]))
    return w @ k[:, : v.shape[1]], w


def output_only(q, k, v):
    return right(q, k, v)[0]


def crashes(q, k, v):
    raise RuntimeError("not implemented yet")


def unnormalised(q, k, v):
    w = np.exp(q @ k.T / np.sqrt(q.shape[-1]))
    return w @ v, w


def test_right_answer_passes_and_praises_batches():
    feedback = check_attention(right)
    assert feedback and "works on batches" in repr(feedback) and repr(feedback).startswith("✔")


def test_2d_only_answer_passes_with_a_hint():
    feedback = check_attention(right_2d_only)
    assert feedback and "batches" in feedback.message


@pytest.mark.parametrize("fn, says", [
    (unscaled, "not scaled: divide q @ k.T by sqrt"),
    (divided_by_d, "divided by d_k"),
    (overflowing, "overflow"),
    (wrong_axis, "each ROW must"),
    (softmax_twice, "softmax is applied twice"),
    (transposed, "did you compute k @ q.T"),
    (sums_keys, "weighted sum of the VALUES"),
    (output_only, "expected a pair (output, weights)"),
    (crashes, "raised RuntimeError: not implemented yet"),
    (unnormalised, "row sums are"),
])
def test_wrong_answers_are_named(fn, says):
    feedback = check_attention(fn)
    assert isinstance(feedback, Feedback) and not feedback
    assert says in feedback.message
    assert repr(feedback).startswith("✘")
