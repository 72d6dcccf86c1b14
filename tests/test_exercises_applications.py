"""Chapter 6's checkers on what the registry's typical mistakes do not cover: right answers written in other
ways (2-D only, a loop, a large negative for -inf, starting from the identity), an answer that raises, and the
package's own functions. The wrong answers students write are in the registry
(attn_course/exercises/applications.py) and run by tests/test_exercise_contract.py."""
import numpy as np

from attn_course.exercises import check_alignment_accuracy, check_attention_pooling, check_rollout
from conftest import assert_accepts, assert_rejects, reference


def _softmax(scores):
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_alignment_accepts_right_answers_and_praises_batches():
    def loop(weights, truth):
        rows = weights.reshape(-1, weights.shape[-1]), truth.reshape(-1, truth.shape[-1])
        return np.mean([t[np.argmax(w)] for w, t in zip(*rows)])
    for fn in [lambda w, t: np.take_along_axis(t, w.argmax(axis=-1)[..., None], axis=-1).mean(), loop]:
        assert_accepts(check_alignment_accuracy(fn), "works on batches")


def test_alignment_2d_only_passes_with_a_hint():
    feedback = check_alignment_accuracy(lambda w, t: t[np.arange(len(w)), w.argmax(axis=1)].mean())
    assert_accepts(feedback, "Going further")


def test_alignment_reports_a_raising_answer():
    assert_rejects(check_alignment_accuracy(lambda w, t: 1 / 0), "raised ZeroDivisionError")


def test_pooling_accepts_a_large_negative_instead_of_minus_infinity():
    def pool(h, u, mask):
        weights = _softmax(np.where(mask, h @ u, -1e30))
        return (weights[..., None] * h).sum(axis=1), weights
    assert_accepts(check_attention_pooling(pool))
    assert_accepts(check_attention_pooling(reference(check_attention_pooling)))


def test_pooling_reports_transposed_weights():
    assert_rejects(check_attention_pooling(lambda h, u, mask: (h.sum(1), (h @ u).T)), "weights has shape")


def test_rollout_accepts_starting_from_the_identity():
    def rollout(weights):
        result = np.eye(weights.shape[-1])
        for layer in 0.5 * (weights.mean(axis=1) + np.eye(weights.shape[-1])):
            result = layer @ result
        return result
    assert_accepts(check_rollout(rollout))


def test_the_package_passes_its_own_checkers():
    from attn_course import readout  # NumPy only: no torch needed
    assert check_rollout(readout.attention_rollout)
    assert check_alignment_accuracy(readout.alignment_accuracy)
