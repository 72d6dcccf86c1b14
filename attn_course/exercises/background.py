"""Checkers for the exercises of chapter 1 (background): attention pooling as Nadaraya–Watson kernel regression.

    check_kernel_weights(weights)   the three weights of one query, computed by hand (KERNEL_CASE)
    check_nadaraya_watson(fn)       fn(x_query, x_train, y_train, bandwidth) -> (predictions, weights)
    check_bandwidth(fn)             fn(x_train, y_train, bandwidths) -> the bandwidth with the smallest
                                    leave-one-out error
    check_wide_bandwidth_prediction(p)  p: "nearest" | "average" | "zero", the curve at h = 100 (predict)
    check_dot_product_scores(fn)    fn(x_query, x_train, h) -> x x_i / h^2 - x_i^2 / (2h^2) (derive)
    check_kernel_regression_nd(fn)  fn(x_query, x_train, y_train, h, leave_one_out=False) -> (predictions,
                                    weights), inputs in d dimensions (hard)

The estimator (Nadaraya 1964; Watson 1964) with a Gaussian kernel, written as attention: the query is
x, the keys are the training inputs x_i, the values the targets y_i, and the weights are

    w_i(x) = softmax_i( -(x - x_i)^2 / (2 h^2) ),      prediction f(x) = sum_i w_i(x) y_i.

NumPy only: each checker carries its own reference (KERNEL_WEIGHTS, nadaraya_watson, best_bandwidth).
"""
import numpy as np

from .feedback import Feedback, call, call_for_pair, checker, fail, not_written
from .registry import Exercise, Mistake

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
    """The weights a typical mistake gives, with the verdict that names it (checked in this order)."""
    d = np.asarray(x_query)[:, None] - np.asarray(x_train)[None, :]  # (m, n)
    fix = "score = -(x - x_i)**2 / (2 * h**2), then a softmax over the training points"
    with np.errstate(all="ignore"):
        return [
            (fail("the farthest training points get the largest weights: look at the sign of the score",
                  "a larger score means a larger weight, and near points must count most",
                  "the score is MINUS the squared distance: " + fix), _softmax(d ** 2 / (2 * h ** 2))),
            (fail(f"the weights are too sharp for bandwidth h = {h:g}: the squared distance is divided by 2h = "
                  f"{2 * h:g}. Look at the power of h", "the bandwidth is a length, and so is x - x_i: the score "
                  "compares two squared lengths", f"divide by 2h^2 = {2 * h ** 2:g}: " + fix),
             _softmax(-d ** 2 / (2 * h))),
            (fail(f"the squared distance is divided by h = {h:g}: look at the denominator of the Gaussian kernel",
                  "the kernel is exp(-u^2 / 2) with u = (x - x_i) / h", f"divide by 2h^2 = {2 * h ** 2:g}: " + fix),
             _softmax(-d ** 2 / h)),
            (fail(f"the squared distance is divided by h^2 = {h ** 2:g}: look at the constant in the denominator",
                  "the Gaussian kernel is exp(-u^2 / 2)", f"the 2 is missing: divide by 2h^2 = {2 * h ** 2:g}"),
             _softmax(-d ** 2 / h ** 2)),
            (fail("a larger bandwidth makes your weights sharper: the bandwidth is multiplied. Look at where h is",
                  "a SMALL h must make the weights sharp", "divide by h, do not multiply: " + fix),
             _softmax(-d ** 2 * h ** 2 / 2)),
            (fail("the bandwidth is ignored: your weights do not change with h. Look at the score",
                  "the bandwidth sets how far a training point still counts", fix), _softmax(-d ** 2 / 2)),
            (fail("the weights fall off too slowly with the distance: look at the power of x - x_i",
                  "the Gaussian kernel uses the squared distance, not |x - x_i|", fix),
             _softmax(-np.abs(d) / (2 * h ** 2))),
        ]


def _diagnose_weights(weights, x_query, x_train, h):
    """A failing Feedback for weights that are not the Gaussian attention weights, or None when they are."""
    n = len(x_train)
    if (weights < 0).any():
        return fail("some weights are negative: look at how you turn scores into weights",
                    "a kernel weight is exp(score) / sum of exp(score), never below 0",
                    "weights = softmax of the scores over the training points")
    sums = weights.sum(axis=-1)
    if not np.allclose(sums, 1.0, atol=1e-6):
        if len(x_query) > 1 and np.allclose(weights.sum(axis=0), 1.0, atol=1e-6):
            return fail("each query's weights should sum to 1, but the columns do: look at the axis you normalise "
                        "over", "a row holds one query's weights over the training points",
                        "normalise over the last axis: softmax(scores, axis=-1)")
        return fail(f"the weights of a query must sum to 1, but they sum to "
                    f"{np.round(sums, 4).tolist() if sums.size > 1 else round(sums.item(), 4)}: look at the "
                    "normalisation", "those are raw kernel values",
                    "divide them by their sum over the training points (that is what softmax does)")
    _, reference = nadaraya_watson(x_query, x_train, np.zeros(n), h)
    if np.allclose(weights, reference, atol=1e-6):
        return None
    if np.allclose(weights, 1.0 / n):
        return fail("all the weights are equal: that is the plain average of the targets, the limit h -> infinity. "
                    "Look at where the distance enters", "near training points must weigh more than far ones",
                    "score = -(x - x_i)**2 / (2 * h**2), then a softmax")
    nearest = np.argmin(np.abs(np.asarray(x_query)[:, None] - np.asarray(x_train)[None, :]), axis=-1)
    if np.allclose(weights, np.eye(n)[nearest]):
        return fail("the weights are one-hot on the nearest training point: that is nearest-neighbour regression, "
                    "the limit h -> 0. Look at the bandwidth", "at bandwidth h every point gets a share",
                    "score = -(x - x_i)**2 / (2 * h**2), then a softmax")
    for verdict, variant in _kernel_variants(x_query, x_train, h):
        if np.allclose(weights, variant, atol=1e-6):
            return verdict
    return fail("the weights differ from softmax over i of -(x - x_i)^2 / (2h^2): look at the scores",
                "print the score of one query against each training point",
                "score = -(x - x_i)**2 / (2 * h**2), then a softmax over the training points")


# ---------------------------------------------------------------------------------------------------
# Exercise 1.1: three weights by hand.

@checker
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
        return fail(f"expected an array of 3 numbers, got {type(weights).__name__}: look at what you assign",
                    "weights_by_hand = np.array([w_1, w_2, w_3])")
    if weights.shape != (len(x_train),):
        return fail(f"expected {len(x_train)} weights, one per training point (shape ({len(x_train)},)), got shape "
                    f"{weights.shape}: look at how many numbers you give", "one query, three training points",
                    "weights_by_hand = np.array([w_1, w_2, w_3])")
    if not np.all(np.isfinite(weights)):
        return fail("the weights contain NaN or inf: look at the exponentials and the division",
                    "the weights are exp(score_i) / sum_j exp(score_j)")
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


@checker
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
        if weights.shape == (n, m):
            return fail(f"weights has shape {weights.shape}, one row per training point; expected (m, n) = {(m, n)}, "
                        "one row per query: look at the order of the differences", "the queries go first",
                        "x_query[:, None] - x_train[None, :]")
        return fail(f"weights has shape {weights.shape}, expected (m, n) = {(m, n)}: one row per query, one column "
                    "per training point. Look at the differences", "every query against every training point",
                    "x_query[:, None] - x_train[None, :]")
    if predictions.shape != (m,):
        return fail(f"predictions has shape {predictions.shape}, expected (m,) = ({m},): one prediction per query. "
                    "Look at the weighted average", "predictions = weights @ y_train")
    if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(predictions))):
        return fail(f"weights or predictions contain NaN or inf at bandwidth {h}, on ordinary inputs: look at the "
                    "exponentials and the division", "print the scores of one query",
                    "a stable softmax: subtract each row's largest score before exp")
    wrong = _diagnose_weights(weights, x_query, x_train, h)
    if wrong is not None:
        return wrong
    if not np.allclose(predictions, weights @ y_train, atol=1e-6):
        if np.allclose(predictions, weights @ x_train, atol=1e-6):
            return fail("the predictions average the inputs x_i: look at what the weights multiply",
                        "the values of this attention are the targets y_i", "predictions = weights @ y_train")
        return fail("the weights are right but the predictions are not their weighted average of the targets: look "
                    "at the last line", "predictions = weights @ y_train")

    # A small bandwidth and a query in a gap between training points: every kernel value exp(-d^2 / (2h^2))
    # underflows to 0 (d^2 / (2h^2) > 745), and a naive normalisation divides 0 by 0.
    h_small, x_gap = 0.01, np.array([1.0, 5.6])  # 5.6 is 0.6 beyond the last training point
    result, error = call(fn, x_gap, x_train, y_train, h_small)
    if error is not None:
        return fail(f"at bandwidth {h_small} your function raised {error.message.split(': ', 1)[-1]}: look at the "
                    "exponentials", "far from every training point, every exp(score) underflows to 0",
                    "subtract each row's largest score before exp")
    predictions, weights = (np.asarray(r, dtype=np.float64) for r in result)
    if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(predictions))):
        return fail(f"at bandwidth {h_small}, for a query far from every training point, the weights are NaN: look "
                    "at the exponentials", "every exp(-(x - x_i)^2 / (2h^2)) underflows to 0, and 0 / 0 is NaN; "
                    "softmax does not change when the scores shift",
                    "subtract each row's largest score before exp: s - s.max(axis=-1, keepdims=True)")
    _, reference = nadaraya_watson(x_gap, x_train, y_train, h_small)
    if not np.allclose(weights, reference, atol=1e-6):
        return fail(f"at bandwidth {h_small} the weights are finite but wrong: look at the softmax's stability",
                    "each row must put its weight on the nearest training point(s)",
                    "subtract each row's own largest score before exp")
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


@checker
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
        return fail(f"expected one number (a bandwidth), got an array of shape {shape}: look at what you return",
                    "the errors of each bandwidth are a step, not the answer",
                    "return bandwidths[np.argmin(errors)]")
    try:
        got = float(result)
    except (TypeError, ValueError):
        return fail(f"expected one number (a bandwidth), got {type(result).__name__}: look at what you return",
                    "return bandwidths[np.argmin(errors)]")
    if np.isclose(got, expected):
        # a second data set, with candidates so small that kernel values underflow in the gaps between points
        x2, y2 = _regression_data(seed=2, n=30)
        tiny = np.array([0.003, 0.1, 0.3, 1.0])
        expected2 = best_bandwidth(x2, y2, tiny)
        result2, error = call(fn, x2, y2, tiny.copy())
        if error is not None:
            return fail(f"with a bandwidth of {tiny[0]} your function raised {error.message.split(': ', 1)[-1]}: look "
                        "at the exponentials", "at such a small h every kernel value can underflow to 0",
                        "use a stable softmax: subtract each row's largest score, and mask the diagonal")
        if np.ndim(result2) == 0 and np.isclose(float(result2), expected2):
            return Feedback(True, f"correct: on the checker's data h = {got:g} predicts the left-out points best; "
                                  "smaller bandwidths copy the noise of the nearest points, larger ones flatten the curve")
        return fail(f"with a candidate bandwidth of {tiny[0]} you chose {result2} instead of {expected2:g}: look at "
                    "the errors you compute for that bandwidth", "at such a small h the kernel values of a point far "
                    "from its neighbours underflow to 0, 0 / 0 is NaN, and np.argmin returns the first NaN",
                    "use a stable softmax: subtract each row's largest score, and mask the diagonal")
    index = int(np.argmin(loo))
    if got == index and float(got).is_integer() and not np.isclose(got, expected):
        return fail(f"you returned {int(got)}, the position of the best bandwidth in the list: look at what "
                    "np.argmin gives", "the answer is a bandwidth, not an index",
                    f"return bandwidths[np.argmin(errors)], here bandwidths[{index}]")
    if np.isclose(got, loo.min()) or np.any(np.isclose(got, loo)):
        return fail("you returned an error, not a bandwidth: look at the last line",
                    "the question is WHICH bandwidth has the smallest error", "return bandwidths[np.argmin(errors)]")
    if np.isclose(got, BANDWIDTHS[np.argmin(_in_sample_errors(x, y, BANDWIDTHS))]) and np.isclose(got, BANDWIDTHS[0]):
        return fail(f"you chose the smallest candidate, h = {got:g}: look at which points predict each y_i",
                    "without leaving each point out, the smallest bandwidth always wins: every training point then "
                    "predicts itself", "give each point weight 0 in its own prediction: mask the diagonal of the "
                    "scores with -inf before the softmax")
    if np.isclose(got, BANDWIDTHS[np.argmax(loo)]):
        return fail(f"h = {got:g} has the LARGEST leave-one-out error: look at how you pick the bandwidth",
                    "use argmin, not argmax")
    return fail(f"expected h = {expected:g} (the smallest leave-one-out error), got {got:g}: look at the errors",
                "for each h, predict every y_i from the OTHER points and average the squared errors",
                "mask the diagonal with -inf, softmax, predict, mean squared error; return bandwidths[np.argmin(errors)]")


# ---------------------------------------------------------------------------------------------------
# Exercise 1.4 (predict): the curve at a very large bandwidth.

BANDWIDTH_PREDICTION = "average"  # the reference of exercise 1.4
_WIDE = 100.0


@checker
def check_wide_bandwidth_prediction(prediction):
    """Check a prediction of what kernel regression draws at bandwidth h = 100 on data spread over [0, 5]:
    "nearest" (a staircase through the nearest targets), "average" (a flat line at the mean of the
    targets) or "zero" (a flat line at 0)."""
    from .predict import check_choice

    x_train, y_train = _regression_data()
    grid = np.linspace(0, 5, 101)
    predictions, weights = nadaraya_watson(grid, x_train, y_train, _WIDE)
    spread = np.max(np.abs(predictions - y_train.mean()))
    return check_choice(prediction, {
        "nearest": "copying the nearest training point's target is the limit h -> 0, where one weight takes "
                   "all; a large h does the opposite",
        "average": f"every score -(x - x_i)^2 / (2h^2) is close to 0 when h = {_WIDE:g} is much wider than the "
                   "data, so every weight is close to 1/n and the curve is the mean of the targets",
        "zero": "the weights always sum to 1, however wide the kernel, so the prediction stays a weighted "
                "average of the targets and does not fade to 0",
    }, "average", f"on the checker's {len(x_train)} points, every weight within 0.0001 of 1/n = "
                  f"{1 / len(x_train):.4f}: {bool(np.abs(weights - 1 / len(x_train)).max() < 1e-4)}; the curve "
                  f"within 0.001 of the mean of the targets, {y_train.mean():.3f}: {bool(spread < 1e-3)}")


# ---------------------------------------------------------------------------------------------------
# Exercise 1.5 (derive): the Gaussian score as a dot product plus a bias per key.

def dot_product_scores(x_query, x_train, h):
    """The reference of exercise 1.5: (m, n) scores x x_i / h^2 - x_i^2 / (2 h^2), which differ from
    -(x - x_i)^2 / (2 h^2) by -x^2 / (2 h^2), a term of the query alone that the softmax cancels."""
    x_query, x_train = np.asarray(x_query, dtype=np.float64), np.asarray(x_train, dtype=np.float64)
    return (x_query[:, None] * x_train[None, :] - x_train[None, :] ** 2 / 2) / h ** 2


def _dot_product_variants(x_query, x_train, h):
    """(scores of a typical wrong derivation, message, hints), checked in this order."""
    x, xi = x_query[:, None], x_train[None, :]
    return [
        (x * xi / h ** 2, "the key that scores highest is the largest x_i, whatever the query: a term that "
         "depends on each key alone is missing",
         ("expand -(x - x_i)^2 into three terms and keep every one that contains x_i",
          "add -x_i^2 / (2h^2): scores = (x * x_i - x_i^2 / 2) / h^2")),
        ((x * xi + xi ** 2 / 2) / h ** 2, "the term of each key alone has the wrong sign: the weights favour "
         "keys far from 0",
         ("-(x - x_i)^2 = -x^2 + 2 x x_i - x_i^2: what sign does x_i^2 carry?",
          "scores = (x * x_i - x_i^2 / 2) / h^2")),
        ((x * xi / 2 - xi ** 2 / 2) / h ** 2, "the cross term x * x_i has the wrong factor: the weights are "
         "too flat",
         ("expanding (x - x_i)^2 gives 2 x x_i; divided by 2h^2 that leaves x x_i / h^2",
          "scores = (x * x_i - x_i^2 / 2) / h^2")),
        (x * xi - xi ** 2 / 2, "the bandwidth is missing: these are the scores of h = 1",
         ("every term of -(x - x_i)^2 / (2h^2) is divided by 2h^2",
          "scores = (x * x_i - x_i^2 / 2) / h^2")),
    ]


@checker
def check_dot_product_scores(fn):
    """Check `fn(x_query, x_train, h) -> scores (m, n)`: x x_i / h^2 - x_i^2 / (2 h^2), the Gaussian
    score with the query's own term -x^2 / (2 h^2) dropped, so that softmax(scores) are still the
    Nadaraya–Watson weights."""
    rng = np.random.default_rng(5)
    x_query, x_train, h = rng.uniform(-2, 3, 4), rng.uniform(-2, 3, 6), 0.7
    result, error = call(fn, x_query, x_train, h)
    if error is not None:
        return error
    try:
        scores = np.asarray(result, dtype=np.float64)
    except (TypeError, ValueError):
        return Feedback(False, f"expected an array of scores, got {type(result).__name__}")
    m, n = len(x_query), len(x_train)
    if scores.shape != (m, n):
        return Feedback(False, f"scores has shape {scores.shape}, expected (m, n) = {(m, n)}: one row per query",
                        hints=("x_query[:, None] and x_train[None, :] broadcast to (m, n)",))
    expected = dot_product_scores(x_query, x_train, h)
    if np.allclose(scores, expected, atol=1e-9):
        same = np.allclose(_softmax(scores), nadaraya_watson(x_query, x_train, np.zeros(n), h)[1], atol=1e-12)
        return Feedback(True, f"correct: a dot product x * x_i / h^2 plus a bias -x_i^2 / (2h^2) per key; softmax "
                              f"of these scores equals the Gaussian kernel weights: {same}")
    shift = scores - expected
    if np.allclose(shift, shift[:, :1], atol=1e-9):  # the same in every column: a term of the query alone
        kept = np.allclose(shift[:, 0], -x_query ** 2 / (2 * h ** 2), atol=1e-9)
        return Feedback(False, ("your scores still contain -x^2 / (2h^2), the term of the query alone"
                                if kept else "your scores differ from the expected ones by a term of the query "
                                             "alone") + ": the softmax is right, but the exercise asks for the "
                               "scores without that term",
                        hints=("softmax does not change when a row of scores shifts by one number: which term of "
                               "the expansion is the same for every key?",
                               "drop -x^2 / (2h^2): scores = (x * x_i - x_i^2 / 2) / h^2"))
    for variant, message, hints in _dot_product_variants(x_query, x_train, h):
        if np.allclose(scores, variant, atol=1e-9):
            return Feedback(False, message, hints=hints)
    return Feedback(False, "the scores are not -(x - x_i)^2 / (2h^2) with the query's own term dropped",
                    hints=("expand (x - x_i)^2 = x^2 - 2 x x_i + x_i^2 and divide every term by 2h^2",
                           "scores = (x * x_i - x_i^2 / 2) / h^2"))


# ---------------------------------------------------------------------------------------------------
# Exercise 1.6 (hard): kernel regression in d dimensions, with vector targets and leave-one-out.

def kernel_regression_nd(x_query, x_train, y_train, h, leave_one_out=False):
    """The reference of exercise 1.6: (predictions, weights) for inputs in d dimensions.

    x_query: (m, d)  x_train: (n, d)  y_train: (n,) or (n, p)  h > 0
    leave_one_out: the queries are the training inputs (m = n), and point i gets no weight in its own
    prediction.   weights: (m, n)   predictions: (m,) or (m, p)
    """
    x_query, x_train = np.asarray(x_query, dtype=np.float64), np.asarray(x_train, dtype=np.float64)
    squared = ((x_query[:, None, :] - x_train[None, :, :]) ** 2).sum(axis=-1)  # (m, n)
    scores = -squared / (2 * h ** 2)
    if leave_one_out:
        scores = np.where(np.eye(len(x_train), dtype=bool), -np.inf, scores)
    weights = _softmax(scores)
    return weights @ y_train, weights


def _nd_case(seed=0, n=12, d=3):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 3, (n, d))
    y = np.stack([np.sin(x).sum(axis=1), np.cos(x[:, 0]) * x[:, 1]], axis=1) + 0.1 * rng.standard_normal((n, 2))
    return x, y


@checker
def check_kernel_regression_nd(fn):
    """Check `fn(x_query, x_train, y_train, h, leave_one_out=False) -> (predictions, weights)` in d
    dimensions: scores -|x - x_i|^2 / (2h^2) (the squared Euclidean distance), a stable softmax over the
    training points, targets of any width p, and, with leave_one_out=True, no weight on a point's own
    target."""
    x, y = _nd_case()
    queries = x[:5] + 0.2
    n, m = len(x), len(queries)
    for targets, h in ((y[:, 0], 0.8), (y, 0.8)):
        pair, error = call_for_pair(fn, queries, x, targets, h, what="(predictions, weights)")
        if error is not None:
            return error
        predictions, weights = pair
        if weights.shape != (m, n):
            return Feedback(False, f"weights has shape {weights.shape}, expected (m, n) = {(m, n)}: one row per "
                                   "query, one column per training point",
                            hints=("the distance sums the squared differences over the last axis, d",
                                   "squared = ((x_query[:, None, :] - x_train[None, :, :]) ** 2).sum(axis=-1)"))
        expected_p, expected_w = kernel_regression_nd(queries, x, targets, h)
        if predictions.shape != expected_p.shape:
            return Feedback(False, f"with targets of shape {targets.shape} the predictions have shape "
                                   f"{predictions.shape}, expected {expected_p.shape}",
                            hints=("weights @ y_train works for y_train of shape (n,) and (n, p) alike",))
        if not np.allclose(weights, expected_w, atol=1e-9):
            coord0 = kernel_regression_nd(queries[:, :1], x[:, :1], targets, h)[1]
            distance = _softmax(-np.sqrt(((queries[:, None] - x[None]) ** 2).sum(-1)) / (2 * h ** 2))
            if np.allclose(weights, coord0, atol=1e-9):
                return Feedback(False, "the weights depend on the first coordinate only",
                                hints=("the distance between two points in d dimensions uses every coordinate",
                                       "sum the squared differences over the last axis: .sum(axis=-1)"))
            if np.allclose(weights, distance, atol=1e-9):
                return Feedback(False, "the scores use the distance |x - x_i|, not its square",
                                hints=("the Gaussian kernel is exp(-|x - x_i|^2 / (2h^2))",
                                       "drop the square root: sum the squared differences and stop there"))
            if np.allclose(weights.sum(axis=0), 1.0) and not np.allclose(weights.sum(axis=1), 1.0):
                return Feedback(False, "each column of weights sums to 1; each query's row must")
            return Feedback(False, "the weights are not softmax over i of -|x - x_i|^2 / (2h^2)",
                            hints=("compare your weights with the 1-D exercise 1.2 on one coordinate",))
        if not np.allclose(predictions, expected_p, atol=1e-9):
            return Feedback(False, "the weights are right but the predictions are not weights @ y_train")

    pair, error = call_for_pair(fn, x, x, y, 0.8, True, what="(predictions, weights)")
    if error is not None:
        return error
    predictions, weights = pair
    if weights.shape == (n, n) and not np.allclose(np.diag(weights), 0):
        return Feedback(False, f"with leave_one_out=True, point i still weighs {np.diag(weights).max():.2f} (at "
                               "most) in its own prediction",
                        hints=("which entries of the (n, n) weights pair a point with itself?",
                               "set the diagonal scores to -inf before the softmax: "
                               "np.where(np.eye(n, dtype=bool), -np.inf, scores)"))
    expected_p, expected_w = kernel_regression_nd(x, x, y, 0.8, True)
    if not (np.allclose(weights, expected_w, atol=1e-9) and np.allclose(predictions, expected_p, atol=1e-9)):
        return Feedback(False, "with leave_one_out=True the weights are wrong off the diagonal: the others must "
                               "share the whole weight")

    h_small = 0.004  # every kernel value underflows: no query is within 0.18 of a point, 0.18^2 / (2 h^2) > 745
    pair, error = call_for_pair(fn, queries, x, y, h_small, what="(predictions, weights)")
    if error is not None:
        return error
    if not all(np.all(np.isfinite(a)) for a in pair):
        return Feedback(False, f"at bandwidth {h_small} the weights are NaN: every kernel value underflows to 0",
                        hints=("softmax does not change when a row of scores shifts by one number",
                               "subtract each row's largest score before exp"))
    if not np.allclose(pair[1], kernel_regression_nd(queries, x, y, h_small)[1], atol=1e-9):
        return Feedback(False, f"at bandwidth {h_small} the weights are finite but wrong")
    return Feedback(True, "correct: squared Euclidean distances over d coordinates, a stable softmax, targets "
                          "of any width, and leave-one-out with each point's own weight 0")


def _nw_mistake(weights, predictions="weights @ y_train"):
    """A wrong nadaraya_watson whose weights are `weights`, an expression of the differences d (m, n) and h."""
    return ("from attn_course import softmax\n\ndef nadaraya_watson(x_query, x_train, y_train, h):\n"
            "    d = x_query[:, None] - x_train[None, :]\n"
            f"    weights = {weights}\n    return {predictions}, weights\n")


def _kernel_mistake(weights):
    """Weights of exercise 1.1 computed by hand the wrong way, from d = x - x_i and h."""
    return ("from attn_course import softmax\nfrom attn_course.exercises.background import KERNEL_CASE\n"
            "d, h = KERNEL_CASE['query'] - KERNEL_CASE['x_train'], KERNEL_CASE['bandwidth']\n"
            f"weights_by_hand = {weights}\n")


def _bandwidth_mistake(pick, leave_out=True, stable=True):
    """A wrong best_bandwidth that computes the leave-one-out `errors` (or not) and returns `pick`."""
    weights = ("softmax(s, mask=~np.eye(len(x), dtype=bool))" if leave_out else "softmax(s)") if stable else \
        "np.exp(s) * ~np.eye(len(x), dtype=bool) / (np.exp(s) * ~np.eye(len(x), dtype=bool)).sum(1, keepdims=True)"
    return ("from attn_course import softmax\n\ndef best_bandwidth(x, y, bandwidths):\n    errors = []\n"
            "    for h in bandwidths:\n        s = -(x[:, None] - x[None, :]) ** 2 / (2 * h ** 2)\n"
            f"        weights = {weights}\n        errors.append(np.mean((weights @ y - y) ** 2))\n"
            f"    errors = np.array(errors)\n    return {pick}\n")


SCORES = "-d ** 2 / (2 * h ** 2)"

EXERCISES = [
    Exercise(checker=check_kernel_weights, reference="attn_course.exercises.background.KERNEL_WEIGHTS",
             chapter="01_background", solution="weights_by_hand", level="debug", mistakes=(
                 Mistake(_kernel_mistake(f"np.exp({SCORES})"), "sum to 1.4528"),
                 Mistake(_kernel_mistake(f"np.exp({SCORES}) / (h * np.sqrt(2 * np.pi))"), "sum to"),
                 Mistake(_kernel_mistake("softmax(d ** 2 / (2 * h ** 2))"), "farthest"),
                 Mistake(_kernel_mistake("softmax(-d ** 2 / (2 * h))"), "divided by 2h = 1.6"),
                 Mistake(_kernel_mistake("softmax(-d ** 2 / h)"), "divided by h = 0.8"),
                 Mistake(_kernel_mistake("softmax(-d ** 2 / h ** 2)"), "divided by h^2 = 0.64"),
                 Mistake(_kernel_mistake("softmax(-d ** 2 * h ** 2 / 2)"), "multiplied"),
                 Mistake(_kernel_mistake("softmax(-d ** 2 / 2)"), "bandwidth is ignored"),
                 Mistake(_kernel_mistake("softmax(-np.abs(d) / (2 * h ** 2))"), "power of x - x_i"),
                 Mistake(_kernel_mistake("np.full(3, 1 / 3)"), "all the weights are equal"),
                 Mistake(_kernel_mistake("np.array([0.0, 1.0, 0.0])"), "one-hot"),
                 Mistake(_kernel_mistake("np.array([0.2, 0.3])"), "shape (2,)"),
                 Mistake(_kernel_mistake("np.array([[0.1, 0.8, 0.1]])"), "shape (1, 3)"),
                 Mistake(_kernel_mistake("np.array([-0.2, 1.0, 0.2])"), "negative"),
                 Mistake(_kernel_mistake("'0.1, 0.8, 0.1'"), "expected an array of 3 numbers"),
             )),
    Exercise(checker=check_nadaraya_watson, reference="attn_course.exercises.background.nadaraya_watson",
             chapter="01_background", solution="nadaraya_watson", level="implement", mistakes=(
                 Mistake(_nw_mistake(f"np.exp({SCORES}) / np.exp({SCORES}).sum(axis=1, keepdims=True)"),
                         "the weights are NaN"),                                                      # underflow
                 Mistake(_nw_mistake(f"np.exp({SCORES})"), "sum to"),
                 Mistake(_nw_mistake("softmax(-d ** 2 / (2 * h))"), "divided by 2h = 0.6"),
                 Mistake(_nw_mistake("softmax(-d ** 2 / h ** 2)"), "divided by h^2"),
                 Mistake(_nw_mistake("softmax(d ** 2 / (2 * h ** 2))"), "farthest"),
                 Mistake(_nw_mistake("softmax(-d ** 2 / 2)"), "bandwidth is ignored"),
                 Mistake(_nw_mistake(f"softmax({SCORES}, axis=0)"), "but the columns do"),
                 Mistake(_nw_mistake("softmax((-d ** 2 / (2 * h ** 2)).T, axis=0)", "weights.T @ y_train"),
                         "weights has shape (40, 5), one row per training point"),
                 Mistake(_nw_mistake(f"softmax({SCORES})", "weights @ x_train"), "average the inputs"),
                 Mistake(_nw_mistake("np.full(d.shape, 1 / d.shape[1])"), "plain average"),
                 Mistake(_nw_mistake("np.eye(d.shape[1])[np.argmin(np.abs(d), axis=1)]"), "nearest-neighbour"),
                 Mistake(_nw_mistake(f"softmax({SCORES})")[:-len("weights @ y_train, weights\n")] + "weights @ y_train\n",
                         "expected a pair"),
             )),
    Exercise(checker=check_bandwidth, reference="attn_course.exercises.background.best_bandwidth",
             chapter="01_background", solution="best_bandwidth", level="debug", mistakes=(
                 Mistake(_bandwidth_mistake("bandwidths[np.argmin(errors)]", leave_out=False), "smallest candidate"),
                 Mistake(_bandwidth_mistake("bandwidths[np.argmin(errors)]", stable=False), "0.003"),
                 Mistake(_bandwidth_mistake("int(np.argmin(errors))"), "the position of the best bandwidth"),
                 Mistake(_bandwidth_mistake("bandwidths[np.argmax(errors)]"), "LARGEST"),
                 Mistake(_bandwidth_mistake("errors.min()"), "returned an error"),
                 Mistake(_bandwidth_mistake("errors"), "expected one number"),
                 Mistake("def best_bandwidth(x, y, bandwidths):\n    return 1.0\n", "expected h = 0.3"),
             )),
    Exercise(checker=check_wide_bandwidth_prediction,
             reference="attn_course.exercises.background.BANDWIDTH_PREDICTION",
             chapter="01_background", solution="wide_bandwidth_prediction", level="predict",
             mistakes=(Mistake('wide_bandwidth_prediction = "nearest"', "the limit h -> 0"),
                       Mistake('wide_bandwidth_prediction = "zero"', "the weights always sum to 1"))),
    Exercise(checker=check_dot_product_scores, reference="attn_course.exercises.background.dot_product_scores",
             chapter="01_background", solution="dot_product_scores", level="derive", points=2,
             mistakes=(Mistake("def dot_product_scores(x_query, x_train, h):\n"
                               "    return x_query[:, None] * x_train[None, :] / h ** 2",
                               "a term that depends on each key alone is missing"),
                       Mistake("def dot_product_scores(x_query, x_train, h):\n"
                               "    return -(x_query[:, None] - x_train[None, :]) ** 2 / (2 * h ** 2)",
                               "still contain -x^2 / (2h^2)"),
                       Mistake("def dot_product_scores(x_query, x_train, h):\n"
                               "    return (x_query[:, None] * x_train[None, :] / 2 - x_train[None, :] ** 2 / 2) / h ** 2",
                               "the cross term x * x_i has the wrong factor"))),
    Exercise(checker=check_kernel_regression_nd, reference="attn_course.exercises.background.kernel_regression_nd",
             chapter="01_background", solution="kernel_regression_nd", level="hard", points=3,
             mistakes=(Mistake("import numpy as np\n"
                               "def kernel_regression_nd(x_query, x_train, y_train, h, leave_one_out=False):\n"
                               "    s = -((x_query[:, None, :] - x_train[None, :, :]) ** 2).sum(-1) / (2 * h ** 2)\n"
                               "    w = np.exp(s - s.max(axis=1, keepdims=True))\n"
                               "    w = w / w.sum(axis=1, keepdims=True)\n"
                               "    return w @ y_train, w",
                               "with leave_one_out=True, point i still weighs"),
                       Mistake("import numpy as np\n"
                               "def kernel_regression_nd(x_query, x_train, y_train, h, leave_one_out=False):\n"
                               "    s = -(x_query[:, None, 0] - x_train[None, :, 0]) ** 2 / (2 * h ** 2)\n"
                               "    w = np.exp(s - s.max(axis=1, keepdims=True))\n"
                               "    w = w / w.sum(axis=1, keepdims=True)\n"
                               "    return w @ y_train, w",
                               "the first coordinate only"),
                       Mistake("import numpy as np\n"
                               "def kernel_regression_nd(x_query, x_train, y_train, h, leave_one_out=False):\n"
                               "    s = -((x_query[:, None, :] - x_train[None, :, :]) ** 2).sum(-1) / (2 * h ** 2)\n"
                               "    if leave_one_out:\n"
                               "        s = np.where(np.eye(len(x_train), dtype=bool), -np.inf, s)\n"
                               "    w = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)\n"
                               "    return w @ y_train, w",
                               "the weights are NaN"))),
]
