"""The checkers of chapter 1 accept right answers and reject each typical wrong one with the message that names it."""
import numpy as np
import pytest

from attn_course import softmax
from attn_course.exercises import check_bandwidth, check_kernel_weights, check_nadaraya_watson
from attn_course.exercises.background import KERNEL_CASE
from conftest import assert_rejects, reference


# ---------------------------------------------------------------------------------------------------
# Exercise 1.1: three weights by hand

D = KERNEL_CASE["query"] - KERNEL_CASE["x_train"]   # (3,) query minus each training input
H = KERNEL_CASE["bandwidth"]


def test_kernel_weights_accepts_the_softmax_and_the_normalised_kernel():
    for weights in [softmax(-D ** 2 / (2 * H ** 2)),
                    np.exp(-D ** 2 / (2 * H ** 2)) / np.exp(-D ** 2 / (2 * H ** 2)).sum(),
                    list(softmax(-D ** 2 / (2 * H ** 2)))]:
        feedback = check_kernel_weights(weights)
        assert feedback and "x = 2" in feedback.message and repr(feedback).startswith("✔")


@pytest.mark.parametrize("weights, fragments", [
    (np.exp(-D ** 2 / (2 * H ** 2)), ["sum to 1.4528", "raw kernel values", "Divide"]),
    (np.exp(-D ** 2 / (2 * H ** 2)) / (H * np.sqrt(2 * np.pi)), ["sum to", "raw kernel values"]),
    (softmax(D ** 2 / (2 * H ** 2)), ["farthest", "MINUS"]),
    (softmax(-D ** 2 / (2 * H)), ["divided by 2h = 1.6", "2h^2 = 1.28"]),
    (softmax(-D ** 2 / H), ["divided by h = 0.8"]),
    (softmax(-D ** 2 / H ** 2), ["the 2 is missing"]),
    (softmax(-D ** 2 * H ** 2 / 2), ["multiplied"]),
    (softmax(-D ** 2 / 2), ["bandwidth is ignored"]),
    (softmax(-np.abs(D) / (2 * H ** 2)), ["not squared"]),
    (np.full(3, 1 / 3), ["all the weights are equal", "plain average"]),
    (np.array([0.0, 1.0, 0.0]), ["one-hot", "nearest-neighbour"]),
    (np.array([0.2, 0.3]), ["expected 3 weights", "shape (2,)"]),
    (np.array([[0.1, 0.8, 0.1]]), ["expected 3 weights", "shape (1, 3)"]),
    (np.array([np.nan, 0.5, 0.5]), ["NaN"]),
    (np.array([-0.2, 1.0, 0.2]), ["negative"]),
    ("0.1, 0.8, 0.1", ["expected an array of 3 numbers"]),
])
def test_kernel_weights_rejects_typical_mistakes(weights, fragments):
    assert_rejects(check_kernel_weights(weights), *fragments)


# ---------------------------------------------------------------------------------------------------
# Exercise 1.2: Nadaraya–Watson regression

def scores(x_query, x_train, h):
    return -(x_query[:, None] - x_train[None, :]) ** 2 / (2 * h ** 2)


nw_right = reference(check_nadaraya_watson)  # the registry's reference answer


def nw_by_hand(x_query, x_train, y_train, h):
    s = scores(x_query, x_train, h)
    w = np.exp(s - s.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    return w @ y_train, w


def nw_naive(x_query, x_train, y_train, h):
    k = np.exp(scores(x_query, x_train, h))
    w = k / k.sum(axis=1, keepdims=True)
    return w @ y_train, w


def nw_unnormalised(x_query, x_train, y_train, h):
    w = np.exp(scores(x_query, x_train, h))
    return w @ y_train, w


def nw_h_not_squared(x_query, x_train, y_train, h):
    w = softmax(-(x_query[:, None] - x_train[None, :]) ** 2 / (2 * h))
    return w @ y_train, w


def nw_missing_two(x_query, x_train, y_train, h):
    w = softmax(-(x_query[:, None] - x_train[None, :]) ** 2 / h ** 2)
    return w @ y_train, w


def nw_sign(x_query, x_train, y_train, h):
    w = softmax(-scores(x_query, x_train, h))
    return w @ y_train, w


def nw_no_bandwidth(x_query, x_train, y_train, h):
    w = softmax(-(x_query[:, None] - x_train[None, :]) ** 2 / 2)
    return w @ y_train, w


def nw_wrong_axis(x_query, x_train, y_train, h):
    w = softmax(scores(x_query, x_train, h), axis=0)
    return w @ y_train, w


def nw_transposed(x_query, x_train, y_train, h):
    w = softmax(scores(x_train, x_query, h), axis=0)
    return w.T @ y_train, w


def nw_averages_inputs(x_query, x_train, y_train, h):
    w = softmax(scores(x_query, x_train, h))
    return w @ x_train, w


def nw_plain_average(x_query, x_train, y_train, h):
    w = np.full((len(x_query), len(x_train)), 1 / len(x_train))
    return w @ y_train, w


def nw_nearest(x_query, x_train, y_train, h):
    w = np.eye(len(x_train))[np.argmin(np.abs(x_query[:, None] - x_train[None, :]), axis=1)]
    return w @ y_train, w


def nw_predictions_only(x_query, x_train, y_train, h):
    return nw_right(x_query, x_train, y_train, h)[0]


def nw_crashes(x_query, x_train, y_train, h):
    raise NotImplementedError("todo")


@pytest.mark.parametrize("fn", [nw_right, nw_by_hand])
def test_nadaraya_watson_accepts_right_answers(fn):
    feedback = check_nadaraya_watson(fn)
    assert feedback and "underflows" in feedback.message and repr(feedback).startswith("✔")


@pytest.mark.parametrize("fn, fragments", [
    (nw_naive, ["bandwidth 0.01", "underflows to 0", "0 / 0", "Subtract"]),
    (nw_unnormalised, ["sum to", "raw kernel values"]),
    (nw_h_not_squared, ["divided by 2h = 0.6", "2h^2 = 0.18"]),
    (nw_missing_two, ["the 2 is missing"]),
    (nw_sign, ["farthest", "MINUS"]),
    (nw_no_bandwidth, ["bandwidth is ignored"]),
    (nw_wrong_axis, ["COLUMN"]),
    (nw_transposed, ["weights has shape (40, 5)", "queries go first"]),
    (nw_averages_inputs, ["average the inputs", "targets"]),
    (nw_plain_average, ["plain average"]),
    (nw_nearest, ["nearest-neighbour"]),
    (nw_predictions_only, ["expected a pair"]),
    (nw_crashes, ["`nw_crashes` is not written yet", "raise NotImplementedError"]),
])
def test_nadaraya_watson_rejects_typical_mistakes(fn, fragments):
    assert_rejects(check_nadaraya_watson(fn), *fragments)


# ---------------------------------------------------------------------------------------------------
# Exercise 1.3: the bandwidth by leave-one-out

def loo_errors(x, y, bandwidths, leave_out=True, stable=True):
    errors = []
    for h in bandwidths:
        s = -(x[:, None] - x[None, :]) ** 2 / (2 * h ** 2)
        if stable:
            w = softmax(s, mask=~np.eye(len(x), dtype=bool)) if leave_out else softmax(s)
        else:
            k = np.exp(s)
            if leave_out:
                np.fill_diagonal(k, 0.0)
            with np.errstate(invalid="ignore"):
                w = k / k.sum(axis=1, keepdims=True)
        errors.append(np.mean((w @ y - y) ** 2))
    return np.array(errors)


bandwidth_right = reference(check_bandwidth)  # the registry's reference answer


def bandwidth_right_as_array(x, y, bandwidths):
    return np.float32(bandwidth_right(x, y, bandwidths))


def bandwidth_in_sample(x, y, bandwidths):
    return bandwidths[np.argmin(loo_errors(x, y, bandwidths, leave_out=False))]


def bandwidth_unstable(x, y, bandwidths):
    return bandwidths[np.argmin(loo_errors(x, y, bandwidths, stable=False))]


def bandwidth_index(x, y, bandwidths):
    return int(np.argmin(loo_errors(x, y, bandwidths)))


def bandwidth_argmax(x, y, bandwidths):
    return bandwidths[np.argmax(loo_errors(x, y, bandwidths))]


def bandwidth_error(x, y, bandwidths):
    return loo_errors(x, y, bandwidths).min()


def bandwidth_all_errors(x, y, bandwidths):
    return loo_errors(x, y, bandwidths)


def bandwidth_constant(x, y, bandwidths):
    return 1.0


def test_bandwidth_accepts_right_answers():
    for fn in [bandwidth_right, bandwidth_right_as_array]:
        feedback = check_bandwidth(fn)
        assert feedback and "h = 0.3" in feedback.message and repr(feedback).startswith("✔")


@pytest.mark.parametrize("fn, fragments", [
    (bandwidth_in_sample, ["smallest candidate", "predicts itself", "mask the diagonal"]),
    (bandwidth_unstable, ["0.003", "underflow", "NaN", "stable softmax"]),
    (bandwidth_index, ["position of the best bandwidth", "bandwidths[4]"]),
    (bandwidth_argmax, ["LARGEST", "argmin"]),
    (bandwidth_error, ["returned an error"]),
    (bandwidth_all_errors, ["one number", "not the error of each"]),
    (bandwidth_constant, ["expected h = 0.3", "got 1"]),
])
def test_bandwidth_rejects_typical_mistakes(fn, fragments):
    assert_rejects(check_bandwidth(fn), *fragments)
