"""Chapter 3's checkers on what the registry's typical mistakes do not cover: right answers in other forms
(lists and NumPy shapes, 2-D-only code) and learner code that raises. The wrong answers students write are
in the registry (attn_course/exercises/attention.py) and run by tests/test_exercise_contract.py."""
import numpy as np

from attn_course import softmax
from attn_course.exercises import check_additive_score, check_attention, check_attention_shapes
from conftest import assert_accepts, assert_rejects


def test_shapes_accepts_tuples_lists_and_numpy_shapes():
    def as_lists_and_numpy(n_q, n_k, d_k, d_v):
        return {"scores": [n_q, n_k], "weights": (n_q, n_k), "output": np.zeros((n_q, d_v)).shape}
    assert_accepts(check_attention_shapes(as_lists_and_numpy), "one mix of the values per query")


def test_a_raising_answer_is_reported_with_hints():
    feedback = check_attention_shapes(lambda n_q, n_k, d_k, d_v: 1 / 0)
    assert_rejects(feedback, "ZeroDivisionError")
    assert feedback.hints


def test_2d_only_answers_pass_with_a_nudge_to_batches():
    def attention_2d(q, k, v):
        w = softmax(q @ k.T / np.sqrt(q.shape[-1]))
        return w @ v, w

    def additive_2d(q, k, W_q, W_k, v):
        return np.tanh((q @ W_q)[:, None, :] + (k @ W_k)[None, :, :]) @ v
    assert_accepts(check_attention(attention_2d), "Going further", "batches")
    assert_accepts(check_additive_score(additive_2d), "Going further")
