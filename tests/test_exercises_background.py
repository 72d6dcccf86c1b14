"""Chapter 1's checkers on what the registry's typical mistakes do not cover: right answers in other forms,
weights that are not numbers, and learner code that raises. The wrong answers students write are in the
registry (attn_course/exercises/background.py) and run by tests/test_exercise_contract.py."""
import numpy as np
import pytest

from attn_course import softmax
from attn_course.exercises import check_bandwidth, check_kernel_weights, check_nadaraya_watson
from attn_course.exercises.background import KERNEL_CASE
from conftest import assert_accepts, assert_rejects, reference

D = KERNEL_CASE["query"] - KERNEL_CASE["x_train"]   # (3,) query minus each training input
H = KERNEL_CASE["bandwidth"]


def test_kernel_weights_accepts_the_softmax_and_the_normalised_kernel():
    for weights in [softmax(-D ** 2 / (2 * H ** 2)),
                    np.exp(-D ** 2 / (2 * H ** 2)) / np.exp(-D ** 2 / (2 * H ** 2)).sum(),
                    list(softmax(-D ** 2 / (2 * H ** 2)))]:
        assert_accepts(check_kernel_weights(weights), "x = 2")


def test_kernel_weights_rejects_nan():
    assert_rejects(check_kernel_weights(np.array([np.nan, 0.5, 0.5])), "NaN")


def nw_by_hand(x_query, x_train, y_train, h):
    s = -(x_query[:, None] - x_train[None, :]) ** 2 / (2 * h ** 2)
    w = np.exp(s - s.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    return w @ y_train, w


@pytest.mark.parametrize("fn", [reference(check_nadaraya_watson), nw_by_hand])
def test_nadaraya_watson_accepts_right_answers(fn):
    assert_accepts(check_nadaraya_watson(fn), "underflows")


def test_nadaraya_watson_says_a_stub_raising_not_implemented_is_not_written():
    def nw_crashes(x_query, x_train, y_train, h):
        raise NotImplementedError("todo")
    assert_rejects(check_nadaraya_watson(nw_crashes), "`nw_crashes` is not written yet", "raise NotImplementedError")


def test_bandwidth_accepts_a_numpy_scalar():
    right = reference(check_bandwidth)
    assert_accepts(check_bandwidth(lambda x, y, bandwidths: np.float32(right(x, y, bandwidths))), "h = 0.3")
