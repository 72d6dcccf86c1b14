"""The checkers of chapter 6 accept right answers and name each typical wrong one."""
import numpy as np
import pytest

from attn_course.exercises import (Feedback, check_alignment_accuracy, check_attention_pooling,
                                   check_rollout)
from conftest import reference


def _wrong(feedback, says):
    assert isinstance(feedback, Feedback) and not feedback, feedback
    assert says in feedback.message, feedback.message
    assert repr(feedback).startswith("✘")


# ---------------------------------------------------------------------------------------------------
# Alignment accuracy

def accuracy_right(weights, truth):
    return np.take_along_axis(truth, weights.argmax(axis=-1)[..., None], axis=-1).mean()


def accuracy_2d_only(weights, truth):
    return truth[np.arange(len(weights)), weights.argmax(axis=1)].mean()


def accuracy_count(weights, truth):
    return np.take_along_axis(truth, weights.argmax(axis=-1)[..., None], axis=-1).sum()


def accuracy_first_key(weights, truth):
    return (weights.argmax(axis=-1) == truth.argmax(axis=-1)).mean()


def accuracy_soft(weights, truth):
    return (weights * truth).sum() / truth.sum()


def accuracy_columns(weights, truth):
    return np.take_along_axis(truth, weights.argmax(axis=0)[None, :], axis=0).mean()


def accuracy_array(weights, truth):
    return np.take_along_axis(truth, weights.argmax(axis=-1)[..., None], axis=-1)


def test_alignment_right_answer_passes_and_praises_batches():
    feedback = check_alignment_accuracy(accuracy_right)
    assert feedback and "works on batches" in feedback.message and repr(feedback).startswith("✔")


def test_alignment_2d_only_passes_with_a_hint():
    feedback = check_alignment_accuracy(accuracy_2d_only)
    assert feedback and "Going further" in feedback.message


@pytest.mark.parametrize("fn, says", [
    (accuracy_count, "return the share"),
    (accuracy_first_key, "ANY true key"),
    (accuracy_soft, "average weight on the true keys"),
    (accuracy_columns, "argmax down each column"),
    (accuracy_array, "return one number"),
    (lambda w, t: 1 / 0, "raised ZeroDivisionError"),
])
def test_alignment_wrong_answers_are_named(fn, says):
    _wrong(check_alignment_accuracy(fn), says)


def test_the_package_passes_its_own_alignment_checker():
    from attn_course import readout
    assert check_alignment_accuracy(readout.alignment_accuracy)


# ---------------------------------------------------------------------------------------------------
# Attention pooling

def _stable_masked_softmax(scores, mask):
    scores = np.where(mask, scores, -np.inf)
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


pool_right = reference(check_attention_pooling)  # the registry's reference answer


def pool_no_mask(h, u, mask):
    w = _stable_masked_softmax(h @ u, np.ones_like(mask))
    return np.einsum("bn,bnd->bd", w, h), w


def pool_masked_after(h, u, mask):
    w = _stable_masked_softmax(h @ u, np.ones_like(mask)) * mask
    return np.einsum("bn,bnd->bd", w, h), w


def pool_batch_axis(h, u, mask):
    s = np.where(mask, h @ u, -np.inf)
    e = np.exp(s - s.max(axis=0, keepdims=True))
    w = e / e.sum(axis=0, keepdims=True)
    return np.einsum("bn,bnd->bd", w, h), w


def pool_mean(h, u, mask):
    w = _stable_masked_softmax(h @ u, mask)
    return (h * mask[..., None]).sum(1) / mask.sum(1, keepdims=True), w


def pool_overflowing(h, u, mask):
    e = np.exp(h @ u) * mask
    w = e / e.sum(axis=-1, keepdims=True)
    return np.einsum("bn,bnd->bd", w, h), w


def pool_scaled(h, u, mask):
    w = _stable_masked_softmax(h @ u / np.sqrt(h.shape[-1]), mask)
    return np.einsum("bn,bnd->bd", w, h), w


def pool_weights_only(h, u, mask):
    return _stable_masked_softmax(h @ u, mask)


def test_pooling_right_answer_passes():
    feedback = check_attention_pooling(pool_right)
    assert feedback and repr(feedback).startswith("✔")


@pytest.mark.parametrize("fn, says", [
    (pool_no_mask, "the mask is ignored"),
    (pool_masked_after, "mask the scores BEFORE the softmax"),
    (pool_batch_axis, "the softmax ran over the batch"),
    (pool_mean, "plain average"),
    (pool_overflowing, "overflow"),
    (pool_scaled, "divided by sqrt(d)"),
    (pool_weights_only, "expected a pair (pooled, weights)"),
    (lambda h, u, mask: (h.sum(1), (h @ u).T), "weights has shape"),
])
def test_pooling_wrong_answers_are_named(fn, says):
    _wrong(check_attention_pooling(fn), says)


# ---------------------------------------------------------------------------------------------------
# Attention rollout

def _layers(weights, residual=True, reduce=np.mean):
    a = reduce(weights, axis=1)
    if residual:
        a = 0.5 * (a + np.eye(a.shape[-1]))
    return a


def rollout_right(weights):
    a = _layers(weights)
    result = a[0]
    for layer in a[1:]:
        result = layer @ result
    return result


def rollout_wrong_order(weights):
    a = _layers(weights)
    result = a[0]
    for layer in a[1:]:
        result = result @ layer
    return result


def rollout_no_residual(weights):
    a = _layers(weights, residual=False)
    result = a[0]
    for layer in a[1:]:
        result = layer @ result
    return result


def rollout_unnormalised(weights):
    a = weights.mean(axis=1) + np.eye(weights.shape[-1])
    result = a[0]
    for layer in a[1:]:
        result = layer @ result
    return result


def rollout_max_heads(weights):
    a = _layers(weights, reduce=np.max)
    a = a / a.sum(-1, keepdims=True)
    result = a[0]
    for layer in a[1:]:
        result = layer @ result
    return result


def rollout_last_layer(weights):
    return weights[-1].mean(axis=0)


def rollout_per_head(weights):
    return 0.5 * (weights + np.eye(weights.shape[-1]))[-1]


def test_rollout_right_answer_passes():
    feedback = check_rollout(rollout_right)
    assert feedback and repr(feedback).startswith("✔")


@pytest.mark.parametrize("fn, says", [
    (rollout_wrong_order, "wrong order"),
    (rollout_no_residual, "residual connection is missing"),
    (rollout_unnormalised, "divide by 2"),
    (rollout_max_heads, "combined with max"),
    (rollout_last_layer, "only the last layer"),
    (rollout_per_head, "average over the heads"),
    (lambda w: w.sum(), "expected an (n, n)"),
])
def test_rollout_wrong_answers_are_named(fn, says):
    _wrong(check_rollout(fn), says)


def test_the_package_passes_its_own_rollout_checker():
    from attn_course import readout
    assert check_rollout(readout.attention_rollout)
