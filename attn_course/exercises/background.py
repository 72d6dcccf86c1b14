"""Checkers for the exercises of chapter 1 (background): attention pooling as Nadaraya–Watson kernel regression.

    check_kernel_weights(weights)   the three weights of one query, computed by hand (KERNEL_CASE)
    check_nadaraya_watson(fn)       fn(x_query, x_train, y_train, bandwidth) -> (predictions, weights)
    check_bandwidth(fn)             fn(x_train, y_train, bandwidths) -> the bandwidth with the smallest
                                    leave-one-out error

The estimator (Nadaraya 1964; Watson 1964) with a Gaussian kernel, written as attention: the query is
x, the keys are the training inputs x_i, the values the targets y_i, and the weights are

    w_i(x) = softmax_i( -(x - x_i)^2 / (2 h^2) ),      prediction f(x) = sum_i w_i(x) y_i.

NumPy only: each checker carries its own reference (KERNEL_WEIGHTS, nadaraya_watson, best_bandwidth).
"""
import numpy as np

from .feedback import Feedback, call, call_for_pair, not_written
from .registry import Exercise

# Exercise 1.1: one query, three training points, and a bandwidth at which 2h^2, h^2, h and 2h all differ
# (not 1, where h = h^2, nor 0.5, where h = 2h^2), so that each way of misusing h gives other weights; and
# not 0.6, where the raw kernel values happen to sum to 1.00.
KERNEL_CASE = {"x_train": np.array([1.0, 2.0, 3.5]), "query": 2.5, "bandwidth": 0.8}


def _softmax(s):
    # Not attn_course.softmax, which refuses inf: the wrong answers modelled here underflow to -inf scores.
    s = np.exp(s - s.max(axis=-1, keepdims=True))
    return s / s.sum(axis=-1, keepdims=True)


def _gaussian_scores(x_query, x_train, h):
    """(m, n): -(x - x_i)^2 / (2 h^2) for every query x and training input x_i."""
    return -(np.asarray(x_query)[:, None] - np.asarray(x_train)[None, :]) ** 2 / (2 * h ** 2)


def nadaraya_watson(x_query, x_train, y_train, bandwidth):
    """The reference of exercise 1.2: (predictions (m,), weights (m, n)), a stable softmax of the scores."""
    weights = _softmax(_gaussian_scores(x_query, x_train, bandwidth))
    return weights @ y_train, weights


# The reference of exercise 1.1: the weights of KERNEL_CASE's query, as the learner computes them by hand.
KERNEL_WEIGHTS = nadaraya_watson(np.array([KERNEL_CASE["query"]]), KERNEL_CASE["x_train"],
                                 np.zeros(len(KERNEL_CASE["x_train"])), KERNEL_CASE["bandwidth"])[1][0]


def _kernel_variants(x_query, x_train, h):
    """The weights a typical mistake gives, by the message that names it (checked in this order)."""
    d = np.asarray(x_query)[:, None] - np.asarray(x_train)[None, :]  # (m, n)
    with np.errstate(all="ignore"):
        return [
            ("the farthest training points get the largest weights: the score is MINUS the squared distance, "
             "-(x - x_i)^2 / (2h^2), so that near points count most", _softmax(d ** 2 / (2 * h ** 2))),
            (f"the squared distance is divided by 2h = {2 * h:g}; the Gaussian kernel divides it by 2h^2 = "
             f"{2 * h ** 2:g} (the bandwidth is a length, and so is x - x_i)", _softmax(-d ** 2 / (2 * h))),
            (f"the squared distance is divided by h = {h:g}; the Gaussian kernel divides it by 2h^2 = {2 * h ** 2:g}",
             _softmax(-d ** 2 / h)),
            (f"the 2 is missing: divide the squared distance by 2h^2 = {2 * h ** 2:g}, not by h^2 = {h ** 2:g}",
             _softmax(-d ** 2 / h ** 2)),
            ("the bandwidth is multiplied, not divided: the score is -(x - x_i)^2 / (2h^2), so a SMALL h "
             "makes the weights sharp", _softmax(-d ** 2 * h ** 2 / 2)),
            ("the bandwidth is ignored: the score is -(x - x_i)^2 / (2h^2), with h", _softmax(-d ** 2 / 2)),
            ("the distance is not squared: the Gaussian kernel uses (x - x_i)^2, not |x - x_i|",
             _softmax(-np.abs(d) / (2 * h ** 2))),
        ]


def _diagnose_weights(weights, x_query, x_train, h):
    """Feedback(False, ...) for weights that are not the Gaussian attention weights, or None when they are."""
    n = len(x_train)
    if (weights < 0).any():
        return Feedback(False, "some weights are negative; a kernel weight is exp(...) / sum, never below 0")
    sums = weights.sum(axis=-1)
    if not np.allclose(sums, 1.0, atol=1e-6):
        if len(x_query) > 1 and np.allclose(weights.sum(axis=0), 1.0, atol=1e-6):
            return Feedback(False, "each COLUMN sums to 1, but each query's row must: normalise over the training "
                                   "points, axis=-1")
        return Feedback(False, f"the weights of a query must sum to 1, but they sum to "
                               f"{np.round(sums, 4).tolist() if sums.size > 1 else round(sums.item(), 4)}: "
                               "those are raw kernel values. Divide them by their sum over the training points "
                               "(that is what softmax does)")
    _, reference = nadaraya_watson(x_query, x_train, np.zeros(n), h)
    if np.allclose(weights, reference, atol=1e-6):
        return None
    if np.allclose(weights, 1.0 / n):
        return Feedback(False, "all the weights are equal: that is the plain average of the targets, the limit "
                               "h -> infinity. Near training points must weigh more than far ones")
    nearest = np.argmin(np.abs(np.asarray(x_query)[:, None] - np.asarray(x_train)[None, :]), axis=-1)
    if np.allclose(weights, np.eye(n)[nearest]):
        return Feedback(False, "the weights are one-hot on the nearest training point: that is nearest-neighbour "
                               "regression, the limit h -> 0. At bandwidth h every point gets a share")
    for message, variant in _kernel_variants(x_query, x_train, h):
        if np.allclose(weights, variant, atol=1e-6):
            return Feedback(False, message)
    return Feedback(False, "the weights differ from softmax over i of -(x - x_i)^2 / (2h^2)")


# ---------------------------------------------------------------------------------------------------
# Exercise 1.1: three weights by hand.

def check_kernel_weights(weights):
    """Check the weights of the query KERNEL_CASE["query"] over KERNEL_CASE["x_train"] at its bandwidth.

    weights: (3,), w_i = softmax over i of -(x - x_i)^2 / (2 h^2).
    """
    x_train, x, h = KERNEL_CASE["x_train"], KERNEL_CASE["query"], KERNEL_CASE["bandwidth"]
    if weights is Ellipsis:  # the student edition's `weights_by_hand = ...`
        return not_written("this exercise", "the `...` in its cell")
    try:
        weights = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        return Feedback(False, f"expected an array of 3 numbers, got {type(weights).__name__}")
    if weights.shape != (len(x_train),):
        return Feedback(False, f"expected {len(x_train)} weights, one per training point (shape ({len(x_train)},)), "
                               f"got shape {weights.shape}")
    if not np.all(np.isfinite(weights)):
        return Feedback(False, "the weights contain NaN or inf")
    wrong = _diagnose_weights(weights[None, :], np.array([x]), x_train, h)
    if wrong is not None:
        return wrong
    nearest = x_train[np.argmax(weights)]
    return Feedback(True, f"correct: the nearest training point (x = {nearest:g}) gets the largest weight, "
                          "and the three weights sum to 1")


# ---------------------------------------------------------------------------------------------------
# Exercise 1.2: Nadaraya–Watson regression with a Gaussian kernel, as attention.

def _regression_data(seed=0, n=40):
    """d2l's example (as widgets.KernelRegressionExplorer): x uniform on [0, 5], y = 2 sin x + x^0.8 + noise."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0, 5, n))
    return x, 2 * np.sin(x) + x ** 0.8 + rng.normal(0, 0.5, n)


def check_nadaraya_watson(fn):
    """Check `fn(x_query, x_train, y_train, bandwidth) -> (predictions, weights)`.

    x_query: (m,)  x_train: (n,)  y_train: (n,)  bandwidth: h > 0
    weights: (m, n), row j = softmax over i of -(x_query[j] - x_train[i])^2 / (2 h^2)
    predictions: (m,) = weights @ y_train
    """
    x_train, y_train = _regression_data()
    x_query = np.array([0.3, 1.7, 2.2, 4.1, 4.9])
    m, n = len(x_query), len(x_train)
    h = 0.3  # 2h^2, h^2, h and 2h all differ here, so each way of misusing h gives different weights
    pair, error = call_for_pair(fn, x_query, x_train, y_train, h, what="(predictions, weights)")
    if error is not None:
        return error
    predictions, weights = pair
    if weights.shape != (m, n):
        hint = " (one row per query: the queries go first, x_query[:, None] - x_train[None, :])" \
            if weights.shape == (n, m) else ""
        return Feedback(False, f"weights has shape {weights.shape}, expected (m, n) = {(m, n)}: one row per query, "
                               f"one column per training point{hint}")
    if predictions.shape != (m,):
        return Feedback(False, f"predictions has shape {predictions.shape}, expected (m,) = ({m},): one prediction "
                               "per query")
    if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(predictions))):
        return Feedback(False, f"weights or predictions contain NaN or inf at bandwidth {h}, on ordinary inputs")
    wrong = _diagnose_weights(weights, x_query, x_train, h)
    if wrong is not None:
        return wrong
    if not np.allclose(predictions, weights @ y_train, atol=1e-6):
        if np.allclose(predictions, weights @ x_train, atol=1e-6):
            return Feedback(False, "predictions average the inputs x_i; they must average the targets y_i "
                                   "(the values): weights @ y_train")
        return Feedback(False, "predictions are not the weighted average of the targets, weights @ y_train")

    # A small bandwidth and a query in a gap between training points: every kernel value exp(-d^2 / (2h^2))
    # underflows to 0 (d^2 / (2h^2) > 745), and a naive normalisation divides 0 by 0.
    h_small, x_gap = 0.01, np.array([1.0, 5.6])  # 5.6 is 0.6 beyond the last training point
    result, error = call(fn, x_gap, x_train, y_train, h_small)
    if error is not None:
        return Feedback(False, f"at bandwidth {h_small} your function raised {error.message.split(': ', 1)[-1]}")
    predictions, weights = (np.asarray(r, dtype=np.float64) for r in result)
    if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(predictions))):
        return Feedback(False, f"at bandwidth {h_small}, for a query far from every training point, the weights are "
                               "NaN: every exp(-(x - x_i)^2 / (2h^2)) underflows to 0 and 0 / 0 is NaN. Subtract "
                               "each row's largest score before exp (softmax does not change when the scores shift)")
    _, reference = nadaraya_watson(x_gap, x_train, y_train, h_small)
    if not np.allclose(weights, reference, atol=1e-6):
        return Feedback(False, f"at bandwidth {h_small} the weights are finite but wrong: each row must put its "
                               "weight on the nearest training point(s); check the softmax's stability")
    return Feedback(True, "correct: scores -(x - x_i)^2 / (2h^2), a stable softmax over the training points, and "
                          "the weighted average of the targets, even where every kernel value underflows")


# ---------------------------------------------------------------------------------------------------
# Exercise 1.3: choose the bandwidth by leave-one-out cross-validation.

def _loo_errors(x, y, bandwidths):
    """Mean squared leave-one-out error for each bandwidth: point i is predicted from the others only."""
    off_diagonal = ~np.eye(len(x), dtype=bool)
    errors = []
    for h in bandwidths:
        s = np.where(off_diagonal, _gaussian_scores(x, x, h), -np.inf)
        errors.append(np.mean((_softmax(s) @ y - y) ** 2))
    return np.array(errors)


def _in_sample_errors(x, y, bandwidths):
    return np.array([np.mean((_softmax(_gaussian_scores(x, x, h)) @ y - y) ** 2) for h in bandwidths])


def best_bandwidth(x_train, y_train, bandwidths):
    """The reference of exercise 1.3: the bandwidth with the smallest leave-one-out error."""
    return bandwidths[np.argmin(_loo_errors(x_train, y_train, bandwidths))]


BANDWIDTHS = np.array([0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0])


def check_bandwidth(fn):
    """Check `fn(x_train, y_train, bandwidths) -> h`: the bandwidth whose leave-one-out error is smallest.

    x_train, y_train: (n,)  bandwidths: (k,) candidates.  For each h, predict every y_i from the OTHER
    points (weight 0 on itself), take the mean squared error, and return the h with the smallest.
    """
    x, y = _regression_data(seed=1, n=50)
    loo = _loo_errors(x, y, BANDWIDTHS)
    expected = best_bandwidth(x, y, BANDWIDTHS)
    result, error = call(fn, x, y, BANDWIDTHS.copy())
    if error is not None:
        return error
    if np.ndim(result) != 0:
        shape = np.shape(result)
        hint = ": return only the best bandwidth, not the error of each" if shape == BANDWIDTHS.shape else ""
        return Feedback(False, f"return one number (a bandwidth), got an array of shape {shape}{hint}")
    try:
        got = float(result)
    except (TypeError, ValueError):
        return Feedback(False, f"return one number (a bandwidth), got {type(result).__name__}")
    if np.isclose(got, expected):
        # a second data set, with candidates so small that kernel values underflow in the gaps between points
        x2, y2 = _regression_data(seed=2, n=30)
        tiny = np.array([0.003, 0.1, 0.3, 1.0])
        expected2 = best_bandwidth(x2, y2, tiny)
        result2, error = call(fn, x2, y2, tiny.copy())
        if error is not None:
            return Feedback(False, f"with a bandwidth of {tiny[0]} your function raised "
                                   f"{error.message.split(': ', 1)[-1]}")
        if np.ndim(result2) == 0 and np.isclose(float(result2), expected2):
            return Feedback(True, f"correct: on the checker's data h = {got:g} predicts the left-out points best; "
                                  "smaller bandwidths copy the noise of the nearest points, larger ones flatten the curve")
        return Feedback(False, f"with a candidate bandwidth of {tiny[0]} you chose {result2} instead of "
                               f"{expected2:g}: at such a small h the kernel values of a point far from its "
                               "neighbours underflow to 0, 0 / 0 is NaN, and np.argmin returns the first NaN. "
                               "Use a stable softmax (subtract each row's largest score; mask the diagonal)")
    index = int(np.argmin(loo))
    if got == index and float(got).is_integer() and not np.isclose(got, expected):
        return Feedback(False, f"you returned {int(got)}, the position of the best bandwidth in the list; return "
                               f"the bandwidth itself, bandwidths[{index}]")
    if np.isclose(got, loo.min()) or np.any(np.isclose(got, loo)):
        return Feedback(False, "you returned an error; return the bandwidth that has the smallest error")
    if np.isclose(got, BANDWIDTHS[np.argmin(_in_sample_errors(x, y, BANDWIDTHS))]) and np.isclose(got, BANDWIDTHS[0]):
        return Feedback(False, f"you chose the smallest candidate, h = {got:g}: without leaving each point out, the "
                               "smallest bandwidth always wins, because every training point then predicts itself. "
                               "Give each point weight 0 in its own prediction (mask the diagonal)")
    if np.isclose(got, BANDWIDTHS[np.argmax(loo)]):
        return Feedback(False, f"h = {got:g} has the LARGEST leave-one-out error: use argmin, not argmax")
    return Feedback(False, f"expected h = {expected:g} (the smallest leave-one-out error), got {got:g}; for each h "
                           "predict every y_i from the other points and average the squared errors")


EXERCISES = [
    Exercise(checker=check_kernel_weights, reference="attn_course.exercises.background.KERNEL_WEIGHTS",
             chapter="01_background", solution="weights_by_hand"),
    Exercise(checker=check_nadaraya_watson, reference="attn_course.exercises.background.nadaraya_watson",
             chapter="01_background", solution="nadaraya_watson"),
    Exercise(checker=check_bandwidth, reference="attn_course.exercises.background.best_bandwidth",
             chapter="01_background", solution="best_bandwidth"),
]
