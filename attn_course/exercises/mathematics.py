"""Checkers for the exercises of chapter 4 (the mathematics of attention).

    check_score_variance(fn)      fn(d_k, sigma_q, sigma_k) -> Var(q·k) for i.i.d. zero-mean components
    check_masked_attention(fn)    fn(q, k, v, mask) -> (output, weights), mask True = may attend
    check_attention_backward(fn)  fn(q, k, v, grad_output) -> (dq, dk, dv), the backward pass by hand
    check_unscaled_prediction(p)  p: "smaller" | "same" | "larger", the softmax's gradient without 1/sqrt(d_k)
    check_softmax_jacobian(fn)    fn(z) -> diag(p) - p p^T (derive)
    check_masked_attention_backward(fn)  fn(q, k, v, grad_output, mask=mask) -> (dq, dk, dv), batched (hard;
                                  the reference is the package's scaled_dot_product_attention_backward)

The references: score_variance, masked_attention (the package's scaled_dot_product_attention with a
mask) and the package's scaled_dot_product_attention_backward. Each checker recognises the typical wrong answers (a standard
deviation for a variance, an inverted mask, a mask applied after the softmax, a missing 1/sqrt(d_k) in
a gradient, ...), so that its message says what to fix.
"""
import numpy as np

from ..attention import scaled_dot_product_attention
from ..backward import numerical_gradient
from .feedback import NOT_WRITTEN, Feedback, as_pair, call, call_for_pair, checker, fail
from .registry import Exercise, Mistake


def _close(a, b, rtol=1e-6, atol=1e-9):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(np.isfinite(a))) and np.allclose(a, b, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------------------------------
# Exercise 4.1: the variance of a dot product (Vaswani et al. 2017, footnote 4)

_VARIANCE_CASES = [(1, 1.0, 1.0), (64, 1.0, 1.0), (10, 2.0, 3.0), (512, 0.5, 1.5), (3, 0.2, 4.0)]


def score_variance(d_k, sigma_q=1.0, sigma_k=1.0):
    """The reference: Var(q·k) = d_k sigma_q² sigma_k² when the 2 d_k components are independent with mean 0."""
    return d_k * sigma_q ** 2 * sigma_k ** 2


@checker
def check_score_variance(fn):
    """Check `fn(d_k, sigma_q, sigma_k) -> float`: the variance of q·k = sum_i q_i k_i when every q_i and
    k_i is independent, with mean 0 and standard deviations sigma_q and sigma_k."""
    answers = []
    for d_k, s_q, s_k in _VARIANCE_CASES:
        answer, error = call(fn, d_k, s_q, s_k)
        if error is not None:
            return fail(f"d_k = {d_k}, sigma_q = {s_q}, sigma_k = {s_k}: {error.message}", *error.hints)
        if np.ndim(answer) != 0:
            return fail(f"expected one number, the variance, got an array of shape {np.shape(answer)}: look at what "
                        "you return", "return a formula in d_k, sigma_q and sigma_k")
        try:
            answers.append(float(answer))
        except (TypeError, ValueError):
            return fail(f"expected one number, the variance, got {type(answer).__name__}: look at what you return",
                        "return a formula in d_k, sigma_q and sigma_k")
    got = np.array(answers)

    def matches(formula):
        return np.allclose(got, [formula(d, s_q, s_k) for d, s_q, s_k in _VARIANCE_CASES], rtol=1e-6)

    if matches(score_variance):
        return Feedback(True, "correct: d_k independent terms q_i k_i, each of variance sigma_q² sigma_k², add up "
                              "to d_k sigma_q² sigma_k²; dividing q·k by sqrt(d_k) sigma_q sigma_k brings it back to 1")
    rights = np.array([score_variance(*case) for case in _VARIANCE_CASES])
    first_wrong = int(np.flatnonzero(~np.isclose(got, rights, rtol=1e-6))[0])
    d_k, s_q, s_k = _VARIANCE_CASES[2]  # the case with sigma_q, sigma_k != 1, named in the messages below
    fix = "Var(q·k) = d_k * sigma_q**2 * sigma_k**2"
    if matches(lambda d, a, b: np.sqrt(score_variance(d, a, b))):
        return fail("that is the standard deviation of q·k: look at the power", "the variance is its square", fix)
    if matches(lambda d, a, b: 0.0):
        return fail("0 is the MEAN of q·k (each term q_i k_i has mean E[q_i] E[k_i] = 0): the exercise asks for its "
                    "variance", "Var(X) = E[X²] when the mean is 0", fix)
    if matches(lambda d, a, b: d * a * b):
        return fail("your answer scales with sigma_q sigma_k: look at the variance of one term q_i k_i",
                    "the variance of a product of independent zero-mean variables is the product of their VARIANCES, "
                    "E[q_i²] E[k_i²]", fix)
    if matches(lambda d, a, b: d):
        return fail(f"right for unit-variance components only: with sigma_q = {s_q}, sigma_k = {s_k}, look at the "
                    "variance of one term", f"each term q_i k_i has variance sigma_q² sigma_k² = {s_q**2 * s_k**2:g}, "
                    "not 1", fix)
    if matches(lambda d, a, b: a ** 2 * b ** 2) or matches(lambda d, a, b: a * b):
        return fail("your answer does not grow with d_k: that is the variance of ONE term q_i k_i. Look at how many "
                    "terms q·k sums", "the variances of independent terms add", fix)
    if matches(lambda d, a, b: d ** 2 * a ** 2 * b ** 2):
        return fail("your answer grows like d_k²: look at how the variances of the d_k terms combine",
                    "the variances of independent terms add (d_k² would hold if all the terms were the same variable)",
                    fix)
    if matches(lambda d, a, b: d * (a ** 2 + b ** 2)) or matches(lambda d, a, b: d * (a + b)):
        return fail("your answer adds sigma_q and sigma_k: look at the variance of a product",
                    "the variance of a product of independent zero-mean variables is the PRODUCT of their variances",
                    fix)
    if matches(lambda d, a, b: 1.0) or matches(lambda d, a, b: a ** 2 * b ** 2 * np.sqrt(d)):
        return fail("that is the variance after dividing by sqrt(d_k) (or half of it): look at which quantity is "
                    "asked for", "the raw dot product q·k, before any scaling", fix)
    d_k, s_q, s_k = _VARIANCE_CASES[first_wrong]
    return fail(f"for d_k = {d_k}, sigma_q = {s_q}, sigma_k = {s_k} the variance is {rights[first_wrong]:g}, you "
                f"returned {got[first_wrong]:g}: look at q·k as a sum", "write q·k as a sum of d_k independent terms "
                "q_i k_i and add their variances", fix)


# ---------------------------------------------------------------------------------------------------
# Exercise 4.2: masked attention

def _masked_softmax(s, mask, axis=-1):
    """softmax along `axis` over the entries where mask is True; a slice with none gets zeros."""
    s = np.where(mask, s, -np.inf)
    top = s.max(axis=axis, keepdims=True)
    e = np.exp(s - np.where(np.isfinite(top), top, 0))
    total = e.sum(axis=axis, keepdims=True)
    return e / np.where(total > 0, total, 1)


def masked_attention(q, k, v, mask):
    """The reference: (output, weights), True = may attend; a query with no allowed key gets zeros."""
    return scaled_dot_product_attention(q, k, v, mask=mask)


def _plain_softmax(s):
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _mask_case(seed, n_q=4, n_k=6, d_k=4, d_v=3, big=1.0):
    rng = np.random.default_rng(seed)
    q, k, v = big * rng.standard_normal((n_q, d_k)), rng.standard_normal((n_k, d_k)), rng.standard_normal((n_k, d_v))
    causal = np.tril(np.ones((n_q, n_k), dtype=bool), k=n_k - n_q)   # query i sees keys up to i + n_k - n_q
    padding = np.arange(n_k) < n_k - 1                               # the last key is padding
    return q, k, v, causal & padding[None, :]


@checker
def check_masked_attention(fn):
    """Check `fn(q, k, v, mask) -> (output, weights)`: scaled dot-product attention with a boolean mask.

    q: (n_q, d_k)  k: (n_k, d_k)  v: (n_k, d_v)  mask: (n_q, n_k) bool, True = query i MAY attend to key j
    (the convention of attn_course and torch.nn.functional.scaled_dot_product_attention).
    weights: (n_q, n_k), zero where the mask is False, each row summing to 1 over its allowed keys;
    a query that may attend to no key gets all-zero weights and a zero output. output: (n_q, d_v).
    """
    q, k, v, mask = _mask_case(0)
    n_q, n_k, d_k, d_v = len(q), len(k), q.shape[1], v.shape[1]
    pair, error = call_for_pair(fn, q, k, v, mask)
    if error is not None:
        return error
    output, weights = pair
    if weights.shape != (n_q, n_k):
        return fail(f"weights has shape {weights.shape}, expected (n_q, n_k) = {(n_q, n_k)}: one row per query. Look "
                    "at the scores", "scores = q @ k.T / np.sqrt(d_k), of the same shape as the mask")
    if output.shape != (n_q, d_v):
        return fail(f"output has shape {output.shape}, expected (n_q, d_v) = {(n_q, d_v)}: look at the weighted sum",
                    "output = weights @ v")
    scores = q @ k.T / np.sqrt(d_k)
    _, expected = masked_attention(q, k, v, mask)
    if not _close(weights, expected):
        fix = "np.where(mask, scores, -np.inf), then a stable softmax over the keys"
        if not np.all(np.isfinite(weights)):
            return fail("weights contain NaN or inf, though every query here may attend to at least one key: look at "
                        "the exponentials and the axis of the softmax", "does exp overflow, or does the softmax run "
                        "over the wrong axis?", fix)
        if _close(weights, _plain_softmax(scores)):
            return fail("the mask is ignored: every key gets weight. Look at where the mask enters",
                        "a masked key must get exactly 0 after the softmax, and exp(-inf) = 0", fix)
        if _close(weights, masked_attention(q, k, v, ~mask)[1]):
            return fail("the mask is inverted: the allowed keys get weight 0 and the masked ones share it. Look at "
                        "what True means", "here True means MAY attend (attn_course, torch.nn.functional."
                        "scaled_dot_product_attention); torch.nn.MultiheadAttention uses the opposite, True = masked "
                        "out", "np.where(mask, scores, -np.inf): the scores stay where mask is True")
        if _close(weights, np.where(mask, _plain_softmax(scores), 0.0)):
            sums = np.round(weights.sum(axis=-1), 3).tolist()
            return fail(f"the rows of weights sum to {sums}, not 1: the masked keys' weights were zeroed. Look at "
                        "whether you mask before or after the softmax", "the softmax must normalise over the allowed "
                        "keys only", "mask the SCORES (set them to -inf), then take the softmax")
        if _close(weights, _plain_softmax(np.where(mask, scores, 0.0))):
            return fail("masked keys still get weight: their scores were set to 0 (scores * mask?). Look at the value "
                        "you fill in", "a score of 0 still gets exp(0) = 1 before normalising",
                        "fill with -inf, whose exp is exactly 0: " + fix)
        if _close(weights, scaled_dot_product_attention(q, k, v, mask=mask, scale=1.0)[1]):
            return fail("the weights are too peaked: the scores are not scaled. Look at the scale of q @ k.T",
                        "the variance of q·k grows with d_k", f"divide q @ k.T by sqrt(d_k) = {np.sqrt(d_k):g}")
        if _close(weights, _masked_softmax(scores, mask, axis=0)):
            return fail("each row of weights should sum to 1, but the columns do: look at the axis your softmax "
                        "normalises over", "it ran over the queries; it must run over the keys",
                        "softmax(..., axis=-1)")
        if (weights[~mask] != 0).any():
            return fail(f"masked keys must get weight exactly 0, got up to {np.abs(weights[~mask]).max():.3g}: look at "
                        "the value you fill in", fix)
        return fail("weights differ from softmax over the allowed keys of q @ k.T / sqrt(d_k): look at the scores",
                    fix)
    if not _close(output, weights @ v):
        return fail("the weights are right but the output is not their weighted sum of the values: look at the last "
                    "line", "output = weights @ v")

    # A query that may attend to nothing (a fully padded row): all its scores are -inf.
    empty = mask.copy()
    empty[0] = False
    result, error = call(fn, q, k, v, empty)
    if error is not None:
        return fail("when query 0 may attend to no key, " + error.message[0].lower() + error.message[1:]
                    + ": look at rows with no allowed key", "such a row is a fully padded query, and it happens",
                    "return zero weights and a zero output for it instead")
    output, weights = as_pair(result)
    if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(output))):
        return fail("when a query may attend to no key, its weights are NaN: look at what happens to a row whose "
                    "scores are all -inf", "the max subtracted is -inf, and -inf - (-inf) = NaN; then 0 / 0",
                    "give such a row zero weights, e.g. divide by np.where(total > 0, total, 1), and it gets a zero "
                    "output")
    if np.allclose(weights[0], 1 / n_k):
        return fail("a query that may attend to no key got uniform weights 1/n_k: it attends to keys it may not see. "
                    "Look at the value you fill masked scores with", "a large negative fill (-1e9) gives exactly this "
                    "on a fully masked row, and only there (elsewhere it matches -inf)",
                    "fill with -inf, and give a row with no allowed key zero weights and a zero output")
    if not (_close(weights[0], np.zeros(n_k)) and _close(output[0], np.zeros(d_v))):
        return fail(f"a query that may attend to no key must get zero weights and a zero output, got weights "
                    f"{np.round(weights[0], 3).tolist()}: look at rows with no allowed key",
                    "divide by np.where(total > 0, total, 1)")

    # Large scores: a masked softmax must still be stable.
    q_big, k_big, v_big, mask_big = _mask_case(1, big=2000.0)  # scores in the thousands
    result, error = call(fn, q_big, k_big, v_big, mask_big)
    if error is not None:
        return fail("with large scores " + error.message, *error.hints)
    output, weights = as_pair(result)
    if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(output))):
        return fail("with large scores (thousands) the weights become NaN: look at the exponentials",
                    "exp overflows to inf past 709; softmax is shift invariant",
                    "subtract each row's largest allowed score before exp")
    if not _close(weights, masked_attention(q_big, k_big, v_big, mask_big)[1]):
        if (weights[mask_big.any(axis=-1)].sum(axis=-1) < 0.5).any():  # rows that may attend lost their weight
            return fail("with large scores some rows lose their weight: look at whether you mask before or after the "
                        "softmax", "a masked key with a large score took the weight in the softmax, and the allowed "
                        "keys underflowed to 0 before they were renormalised",
                        "mask the SCORES (set them to -inf) before the softmax, not the weights after it")
        return fail("with large scores the weights are wrong, though finite: look at the softmax's stability",
                    "subtract each row's largest ALLOWED score before exp")
    return Feedback(True, "correct: masked scores set to -inf before a stable softmax over the keys, True = may attend, "
                          "and a query with no allowed key gets zeros, not NaN")


# ---------------------------------------------------------------------------------------------------
# Exercise 4.3: the backward pass of attention

def _backward_case(seed, n_q, n_k, d_k, d_v):
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal((n_q, d_k)), rng.standard_normal((n_k, d_k))
    v, g = rng.standard_normal((n_k, d_v)), rng.standard_normal((n_q, d_v))
    return q, k, v, g


def _forward(q, k, v):
    return scaled_dot_product_attention(q, k, v)


def _backward_variants(q, k, v, g):
    """{name: (dq, dk, dv)}: the right backward pass and the typical wrong ones."""
    scale = 1 / np.sqrt(q.shape[-1])
    _, w = _forward(q, k, v)
    dv, dw = w.T @ g, g @ v.T
    ds_right = w * (dw - (w * dw).sum(axis=-1, keepdims=True))
    ds_of = {"right": ds_right, "no softmax": dw, "diagonal": w * (1 - w) * dw,
             "sign": w * (dw + (w * dw).sum(axis=-1, keepdims=True))}
    variants = {}
    for name, ds in ds_of.items():
        variants[name] = (ds @ k * scale, ds.T @ q * scale, dv)
    variants["no scale"] = (ds_right @ k, ds_right.T @ q, dv)
    variants["scale twice"] = (ds_right @ k * scale ** 2, ds_right.T @ q * scale ** 2, dv)
    if ds_right.shape[0] == ds_right.shape[1]:  # square: a missing transpose gives the right shape
        variants["dk untransposed"] = (ds_right @ k * scale, ds_right @ q * scale, dv)
        variants["dv untransposed"] = (ds_right @ k * scale, ds_right.T @ q * scale, w @ g)
    return variants


_WHY = {  # variant: (where to look, hints..., the fix)
    "no softmax": ("the step through the softmax", "dL/dscores is not dL/dweights: the softmax has a Jacobian",
                   "ds = w * (dw - (w * dw).sum(axis=-1, keepdims=True))"),
    "diagonal": ("the softmax's Jacobian", "only its diagonal was used, w * (1 - w) * dw; the Jacobian is "
                 "diag(w) - w w^T, and its off-diagonal part couples every weight of a row",
                 "ds = w * (dw - (w * dw).sum(axis=-1, keepdims=True))"),
    "sign": ("the sign in the softmax's Jacobian", "the Jacobian is diag(w) - w w^T",
             "ds = w * (dw - (w * dw).sum(axis=-1, keepdims=True)), a minus"),
    "no scale": ("the scale of the scores", "the scores were scaled by 1/sqrt(d_k) in the forward pass",
                 "dq and dk carry that factor too: dq = ds @ k / sqrt(d_k), dk = ds.T @ q / sqrt(d_k)"),
    "scale twice": ("the scale of the scores", "1/sqrt(d_k) was applied twice; the scores are scaled once",
                    "scale ds once: dq = ds @ k / sqrt(d_k), dk = ds.T @ q / sqrt(d_k)"),
    "dk untransposed": ("the product that makes dk", "key j collects from every query i the term ds[i, j] q_i",
                        "dk = ds.T @ q / sqrt(d_k)"),
    "dv untransposed": ("the product that makes dv", "value j collects from every query i the term "
                        "weights[i, j] grad_output[i]", "dv = weights.T @ grad_output"),
}
_FIX = {"v": "dv = weights.T @ grad_output",
        "q": "dq = ds @ k / sqrt(d_k), with ds = w * (dw - sum_j w_j dw_j) and dw = grad_output @ v.T",
        "k": "dk = ds.T @ q / sqrt(d_k)"}


def _relative_error(grad, numeric):
    return float(np.abs(grad - numeric).max() / max(np.abs(numeric).max(), 1e-12))


@checker
def check_attention_backward(fn):
    """Check `fn(q, k, v, grad_output) -> (dq, dk, dv)`: the gradients of a loss L through
    output = softmax(q @ k.T / sqrt(d_k)) @ v, given grad_output = dL/doutput.

    q: (n_q, d_k)  k: (n_k, d_k)  v: (n_k, d_v)  grad_output: (n_q, d_v); dq, dk, dv shaped like q, k, v.
    Each gradient is compared with central finite differences of L = sum(output * grad_output), and the
    message names every one that is wrong.
    """
    for seed, shape in [(0, (4, 4, 3, 2)), (1, (3, 5, 4, 2))]:  # square first: a missing .T has the right shape
        q, k, v, g = _backward_case(seed, *shape)
        sizes = "n_q = {}, n_k = {}, d_k = {}, d_v = {}".format(*shape)
        result, error = call(fn, q, k, v, g)
        if error is not None and NOT_WRITTEN in error.message:
            return error
        if error is not None:
            return fail(f"with {sizes}: {error.message}: look at the shapes in the failing product (is a transpose "
                        "missing?)", "dq is like q (n_q, d_k), dk like k (n_k, d_k), dv like v (n_k, d_v)",
                        "dv = weights.T @ grad_output, dk = ds.T @ q / sqrt(d_k), dq = ds @ k / sqrt(d_k)")
        if not (isinstance(result, tuple) and len(result) == 3):
            return fail(f"expected a triple (dq, dk, dv), got {type(result).__name__}: look at what you return",
                        "return dq, dk, dv")
        grads = dict(zip("qkv", (np.asarray(r, dtype=np.float64) for r in result)))
        inputs = {"q": q, "k": k, "v": v}
        for name in "qkv":
            if grads[name].shape != inputs[name].shape:
                return fail(f"with {sizes}: d{name} has shape {grads[name].shape}, expected the shape of {name}, "
                            f"{inputs[name].shape}: look at the product that makes d{name}",
                            "a gradient has the shape of what it differentiates", _FIX[name])

        def loss(name):
            def f(x):
                args = dict(inputs, **{name: x})
                return np.sum(_forward(args["q"], args["k"], args["v"])[0] * g)
            return f

        errors = {name: _relative_error(grads[name], numerical_gradient(loss(name), inputs[name])) for name in "qkv"}
        wrong = [name for name in "qkv" if not errors[name] < 1e-6]
        if not wrong:
            continue
        verdicts = ", ".join(f"d{name} {'wrong' if name in wrong else 'right'}" for name in "qkv")
        message = (f"with {sizes}, against finite differences: {verdicts} (largest error "
                   + ", ".join(f"d{name} {errors[name]:.2g}" for name in wrong) + " of the largest entry)")
        for variant, answer in _backward_variants(q, k, v, g).items():
            if variant != "right" and all(_close(grads[n], a) for n, a in zip("qkv", answer)):
                where, *hints = _WHY[variant]
                return fail(f"{message}: look at {where}", *hints)
        if not all(np.all(np.isfinite(grads[n])) for n in wrong):
            return fail(f"{message}: it contains NaN or inf. Look at the divisions", "; ".join(_FIX[n] for n in wrong))
        return fail(f"{message}. Look at the gradient(s) marked wrong", "go backwards: output = w @ v, w = softmax(s), "
                    "s = q @ k.T / sqrt(d_k)", "; ".join(_FIX[n] for n in wrong))
    return Feedback(True, "correct: dv = w^T g, ds through the softmax's Jacobian, dq = ds k / sqrt(d_k) and "
                          "dk = ds^T q / sqrt(d_k), all three equal to the finite-difference gradients")


# ---------------------------------------------------------------------------------------------------
# Exercise 4.4 (predict): the softmax's gradient without the 1/sqrt(d_k).

UNSCALED_PREDICTION = "smaller"  # the reference of exercise 4.4


def _largest_jacobian_entries(d_k=512, n_keys=8, rows=500, seed=4):
    """The largest |d p_i / d z_j| of the softmax of each of `rows` random rows of scores q · k over
    `n_keys` keys with unit-variance components, without and with the scale 1/sqrt(d_k)."""
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal((rows, 1, d_k)), rng.standard_normal((rows, n_keys, d_k))
    scores = (q @ np.swapaxes(k, -1, -2))[:, 0]  # (rows, n_keys)

    def largest(z):
        p = _plain_softmax(z)                                       # (rows, n_keys)
        jacobian = p[:, :, None] * (np.eye(n_keys) - p[:, None, :])  # (rows, n_keys, n_keys): diag(p) - p p^T
        return np.abs(jacobian).max(axis=(1, 2))
    return largest(scores), largest(scores / np.sqrt(d_k))


@checker
def check_unscaled_prediction(prediction):
    """Check a prediction of how the softmax's gradient (the largest entry of its Jacobian, in a typical row
    of 8 keys) compares without the scale 1/sqrt(d_k), at d_k = 512, with the gradient with the scale:
    "smaller", "same" or "larger"."""
    from .predict import check_choice

    unscaled, scaled = _largest_jacobian_entries()
    return check_choice(prediction, {
        "smaller": "without the scale the scores spread as sqrt(512), about 23, the softmax is nearly one-hot, "
                   "and every entry p_i (delta_ij - p_j) of its Jacobian is near 0 when each p_i is near 0 or 1",
        "same": "the Jacobian diag(p) - p p^T depends on the weights p, and the weights change a lot: without "
                "the scale the scores spread as sqrt(512), about 23, and the softmax is nearly one-hot",
        "larger": "larger scores make the weights more decided, not the gradient larger: p_i (delta_ij - p_j) "
                  "is near 0 when p_i is near 0 or 1, as in a nearly one-hot softmax",
    }, "smaller", f"over 500 random rows, the median largest |d p_i / d z_j| is {np.median(unscaled):.3f} "
                  f"without the scale and {np.median(scaled):.3f} with it")


# ---------------------------------------------------------------------------------------------------
# Exercise 4b.1 (predict): the first line of the source's listing.

LISTING_PREDICTION = "list"  # the reference of exercise 4b.1


@checker
def check_listing_prediction(prediction):
    """Check a prediction of what the first step of the source's §4.3 listing, `query[i] * keys[i]` with
    query = [1, 0, 1] and keys = [[1, 0], [0, 1], [1, 1]] (plain Python lists), gives for i = 0:
    "number" (a dot product), "list" or "error"."""
    from .predict import check_choice

    query, keys = [1, 0, 1], [[1, 0], [0, 1], [1, 1]]       # the listing's own numbers
    first = query[0] * keys[0]                              # int * list: Python repeats the list
    return check_choice(prediction, {
        "list": "an int times a list repeats the list, so no number is multiplied and no dot product is "
                "computed; nothing fails yet",
        "number": "the listing never sums products of components: `query[i]` is one number and `keys[i]` a "
                  "whole list, and an int times a Python list is not arithmetic on numbers",
        "error": "Python accepts an int times a list without complaint: it is the list repeated, so step 1 "
                 "goes wrong silently",
    }, "list", f"query[0] * keys[0] = {first!r}, a {type(first).__name__}")


# ---------------------------------------------------------------------------------------------------
# Exercise 4.5 (derive): the Jacobian of the softmax.

def softmax_jacobian(z):
    """The reference of exercise 4.5: J[i, j] = d softmax(z)_i / d z_j = p_i (delta_ij - p_j), i.e.
    diag(p) - p p^T, for scores z: (n,)."""
    p = _plain_softmax(np.asarray(z, dtype=np.float64))
    return np.diag(p) - np.outer(p, p)


@checker
def check_softmax_jacobian(fn):
    """Check `fn(z) -> J (n, n)`, J[i, j] = d softmax(z)_i / d z_j, against finite differences, on ordinary
    scores and on scores large enough to overflow exp."""
    rng = np.random.default_rng(7)
    z = rng.standard_normal(5)
    result, error = call(fn, z.copy())
    if error is not None:
        return error
    J = np.asarray(result, dtype=np.float64)
    n = len(z)
    if J.shape != (n, n):
        return Feedback(False, f"for {n} scores the Jacobian has shape {J.shape}, expected (n, n) = {(n, n)}: "
                               "one row per output p_i, one column per score z_j",
                        hints=("np.outer(p, p) is (n, n); p @ p is one number",))
    numeric = np.stack([numerical_gradient(lambda x: _plain_softmax(x)[i], z.copy()) for i in range(n)])
    p = _plain_softmax(z)
    if not _close(J, numeric, rtol=1e-5, atol=1e-8):
        if _close(J, np.diag(p * (1 - p))) or _close(J, np.diag(p)):
            return Feedback(False, "the off-diagonal entries are zero: raising one score z_j lowers every other "
                                   "weight p_i, so d p_i / d z_j is not 0 for i != j",
                            hints=("differentiate p_i = exp(z_i) / sum_k exp(z_k) with respect to z_j, j != i: only "
                                   "the denominator depends on z_j",
                                   "J = np.diag(p) - np.outer(p, p)"))
        if _close(J, -numeric):
            return Feedback(False, "every entry has the wrong sign: the diagonal must be positive (raising z_i "
                                   "raises p_i)", hints=("J = np.diag(p) - np.outer(p, p)",))
        if _close(J, np.diag(p) - p @ p):
            return Feedback(False, "the same number is subtracted from every entry, but p p^T has its own entry for "
                                   "every pair (i, j)",
                            hints=("J[i, j] = p_i (delta_ij - p_j) depends on both i and j",
                                   "np.outer(p, p)"))
        if _close(J, numeric.T) and not _close(J, J.T):
            return Feedback(False, "the Jacobian is transposed")
        return Feedback(False, "the Jacobian differs from finite differences of the softmax",
                        hints=("differentiate p_i = exp(z_i) / sum_k exp(z_k) for j = i and for j != i",
                               "J = np.diag(p) - np.outer(p, p)"))
    big = 800 + 3 * z  # exp(800) overflows float64
    result, error = call(fn, big.copy())
    if error is not None:
        return Feedback(False, f"on scores near 800, {error.message}")
    J_big = np.asarray(result, dtype=np.float64)
    if not np.all(np.isfinite(J_big)):
        return Feedback(False, "on scores near 800 the Jacobian contains NaN: exp(800) overflows",
                        hints=("the softmax, and so its Jacobian, does not change when every score shifts",
                               "compute p with the largest score subtracted first"))
    if not _close(J_big, softmax_jacobian(big)):
        return Feedback(False, "on scores near 800 the Jacobian is finite but wrong")
    symmetric, rows = np.allclose(J, J.T), np.allclose(J.sum(axis=1), 0)
    return Feedback(True, f"correct: diag(p) - p p^T, equal to finite differences; it is symmetric: {symmetric}, "
                          f"and each row sums to 0 (shifting every score changes nothing): {rows}")


# ---------------------------------------------------------------------------------------------------
# Exercise 4.6 (hard): the backward pass with a mask and batch dimensions.

def _masked_backward_case(seed=8, batch=(2, 3), n_q=4, n_k=5, d_k=3, d_v=2):
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal(batch + (n_q, d_k)), rng.standard_normal(batch + (n_k, d_k))
    v, g = rng.standard_normal(batch + (n_k, d_v)), rng.standard_normal(batch + (n_q, d_v))
    mask = rng.random(batch + (n_q, n_k)) < 0.6
    mask[..., 0] = True  # every query may attend to at least one key
    return q, k, v, g, mask


@checker
def check_masked_attention_backward(fn):
    """Check `fn(q, k, v, grad_output, mask=mask) -> (dq, dk, dv)` for batched inputs q: (..., n_q, d_k),
    k: (..., n_k, d_k), v: (..., n_k, d_v), grad_output: (..., n_q, d_v) and a boolean mask (..., n_q, n_k),
    True = may attend: the gradients of scaled dot-product attention with that mask."""
    from ..backward import scaled_dot_product_attention_backward as reference

    q, k, v, g, mask = _masked_backward_case()
    names = ("dq", "dk", "dv")
    # First one 2-D case, so that a batch mistake is told apart from a mistake in the formulas.
    for batched, label, args in ((False, "for 2-D inputs", tuple(a[0, 0] for a in (q, k, v, g, mask))),
                                 (True, "for inputs with batch dimensions (2, 3)", (q, k, v, g, mask))):
        *tensors, m = args
        result, error = call(fn, *tensors, mask=m)
        if error is not None:
            if batched:
                return Feedback(False, f"right for 2-D inputs, but {label} your function raised "
                                       f"{error.message.split(': ', 1)[-1]}",
                                hints=("x.T reverses ALL the axes of a batched array",
                                       "transpose the last two axes only: np.swapaxes(x, -1, -2)"))
            return error
        if not (isinstance(result, tuple) and len(result) == 3):
            return Feedback(False, f"expected a triple (dq, dk, dv), got {type(result).__name__}")
        grads = [np.asarray(r, dtype=np.float64) for r in result]
        expected = reference(*tensors, mask=m)
        for name, grad, right, x in zip(names, grads, expected, tensors[:3]):
            if grad.shape != x.shape:
                hint = (("x.T reverses ALL the axes of a batched array",
                         "transpose the last two axes only: np.swapaxes(x, -1, -2)") if batched else ())
                return Feedback(False, f"{label}, {name} has shape {grad.shape}, expected {x.shape} (the shape of "
                                       f"{name[1:]})", hints=hint)
        wrong = [name for name, grad, right in zip(names, grads, expected) if not _close(grad, right)]
        if not wrong:
            continue
        unmasked = reference(*tensors)
        if all(_close(grad, right) for grad, right in zip(grads, unmasked)):
            return Feedback(False, f"{label}, these are the gradients of attention WITHOUT the mask",
                            hints=("the backward pass recomputes the weights: with which scores?",
                                   "recompute the weights with the masked scores set to -inf before the softmax"))
        if batched:
            return Feedback(False, f"right for 2-D inputs, but {label} {', '.join(wrong)} are wrong",
                            hints=("x.T reverses ALL the axes of a batched array",
                                   "transpose the last two axes only: np.swapaxes(x, -1, -2)"))
        scale = np.sqrt(tensors[0].shape[-1])
        one = names.index(wrong[0]) if len(wrong) == 1 else None
        if one in (0, 1) and _close(grads[one], expected[one] * scale):  # dq or dk without the 1/sqrt(d_k)
            return Feedback(False, f"{label}, {wrong[0]} is sqrt(d_k) times too large",
                            hints=("the scores are q k^T / sqrt(d_k): the chain rule goes through the division",
                                   "multiply ds by 1 / sqrt(d_k) before computing dq and dk"))
        return Feedback(False, f"{label}, {', '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} wrong",
                        hints=("check each gradient of the 2-D exercise 4.3 with the mask in the forward pass",
                               "ds = w * (dw - (w * dw).sum(-1, keepdims=True)); masked weights are 0, so their "
                               "ds is 0 too"))
    numeric = numerical_gradient(lambda x: np.sum(scaled_dot_product_attention(x, k, v, mask=mask)[0] * g), q.copy())
    return Feedback(True, f"correct: dq, dk and dv through the masked softmax, batched; dq equals finite "
                          f"differences: {_close(grads[0], numeric, rtol=1e-5, atol=1e-8)}, and no gradient flows "
                          "through a masked pair")


def _variance_mistake(formula):
    return f"def score_variance(d_k, sigma_q=1.0, sigma_k=1.0):\n    return {formula}\n"


def _masked_mistake(body):
    """A wrong masked_attention: `body` computes `weights` from s (the scaled scores), q, k, v and mask."""
    return ("from attn_course import scaled_dot_product_attention, softmax\n\ndef masked_attention(q, k, v, mask):\n"
            "    s = q @ k.T / np.sqrt(q.shape[-1])\n" + "".join(f"    {line}\n" for line in body.split("; "))
            + "    return weights @ v, weights\n")


def _backward_mistake(ds="w * (dw - (w * dw).sum(axis=-1, keepdims=True))", dq="ds @ k * scale",
                      dk="ds.T @ q * scale", dv="w.T @ g"):
    return ("from attn_course import softmax\n\ndef attention_backward(q, k, v, g):\n"
            "    scale = 1 / np.sqrt(q.shape[-1])\n    w = softmax(q @ k.T * scale)\n    dw = g @ v.T\n"
            f"    ds = {ds}\n    return {dq}, {dk}, {dv}\n")


STABLE = "e = np.exp(s - s.max(axis=-1, keepdims=True)); weights = e / e.sum(axis=-1, keepdims=True)"

EXERCISES = [
    Exercise(checker=check_score_variance, reference="attn_course.exercises.mathematics.score_variance",
             chapter="04_mathematics", solution="score_variance", level="debug", mistakes=(
                 Mistake(_variance_mistake("np.sqrt(d_k) * sigma_q * sigma_k"), "standard deviation"),
                 Mistake(_variance_mistake("0.0"), "MEAN"),
                 Mistake(_variance_mistake("d_k * sigma_q * sigma_k"), "scales with sigma_q sigma_k"),
                 Mistake(_variance_mistake("d_k"), "unit-variance components only"),
                 Mistake(_variance_mistake("sigma_q ** 2 * sigma_k ** 2"), "ONE term"),
                 Mistake(_variance_mistake("d_k ** 2 * sigma_q ** 2 * sigma_k ** 2"), "grows like d_k²"),
                 Mistake(_variance_mistake("d_k * (sigma_q ** 2 + sigma_k ** 2)"), "adds sigma_q and sigma_k"),
                 Mistake(_variance_mistake("1.0"), "after dividing by sqrt(d_k)"),
                 Mistake(_variance_mistake("d_k + 7.0"), "look at q·k as a sum"),
                 Mistake(_variance_mistake("[d_k, sigma_q, sigma_k]"), "expected one number"),
             )),
    Exercise(checker=check_masked_attention, reference="attn_course.exercises.mathematics.masked_attention",
             chapter="04_mathematics", solution="masked_attention", level="debug", mistakes=(
                 Mistake(_masked_mistake("weights = softmax(s)"), "the mask is ignored"),
                 Mistake(_masked_mistake("weights = scaled_dot_product_attention(q, k, v, mask=~mask)[1]"), "the mask is inverted"),
                 Mistake(_masked_mistake("weights = softmax(s) * mask"), "before or after the softmax"),
                 Mistake(_masked_mistake("weights = softmax(s * mask)"), "masked keys still get weight"),
                 Mistake(_masked_mistake("weights = scaled_dot_product_attention(q, k, v, mask=mask, scale=1.0)[1]"),
                         "not scaled"),                                                              # missing sqrt(d_k)
                 Mistake(_masked_mistake("weights = softmax(s, axis=0, mask=mask)"), "but the columns do"),
                 Mistake(_masked_mistake("s = np.where(mask, s, -np.inf); " + STABLE), "-inf"),
                 Mistake(_masked_mistake("s = np.where(mask, s, -1e9); " + STABLE), "uniform weights"),
                 Mistake(_masked_mistake("e = np.exp(s) * mask; total = e.sum(axis=-1, keepdims=True); "
                                         "weights = e / np.where(total > 0, total, 1)"), "become NaN"),  # overflow
                 Mistake(_masked_mistake("weights = softmax(s) * mask; total = weights.sum(axis=-1, keepdims=True); "
                                         "weights = weights / np.where(total > 0, total, 1)"), "lose their weight"),
             )),
    Exercise(checker=check_attention_backward, reference="attn_course.backward.scaled_dot_product_attention_backward",
             chapter="04_mathematics", solution="attention_backward", level="implement", mistakes=(
                 Mistake(_backward_mistake(ds="dw"), "dq wrong, dk wrong, dv right"),
                 Mistake(_backward_mistake(ds="w * (1 - w) * dw"), "the softmax's Jacobian"),
                 Mistake(_backward_mistake(ds="w * (dw + (w * dw).sum(axis=-1, keepdims=True))"), "the sign"),
                 Mistake(_backward_mistake(dq="ds @ k", dk="ds.T @ q"), "the scale of the scores"),
                 Mistake(_backward_mistake(dq="ds @ k * scale ** 2", dk="ds.T @ q * scale ** 2"), "the scale"),
                 Mistake(_backward_mistake(dk="ds @ q * scale"), "dq right, dk wrong, dv right"),
                 Mistake(_backward_mistake(dv="w @ g"), "dq right, dk right, dv wrong"),
                 Mistake(_backward_mistake(dq="ds @ k * scale + 0.1"), "dq wrong, dk right, dv right"),
                 Mistake(_backward_mistake(dk="(ds.T @ q * scale)[:, :1]"), "dk has shape"),
                 Mistake(_backward_mistake(dq="ds @ k * scale", dk="ds @ q * scale", dv="w @ g").replace(
                     "    return", "    if len(q) == len(k):\n        return ds @ k * scale, ds.T @ q * scale, w.T @ g\n"
                     "    return"), "is a transpose missing"),               # right on square inputs only
             )),
    Exercise(checker=check_unscaled_prediction, reference="attn_course.exercises.mathematics.UNSCALED_PREDICTION",
             chapter="04_mathematics", solution="unscaled_prediction", level="predict",
             mistakes=(Mistake('unscaled_prediction = "same"', "the Jacobian diag(p) - p p^T depends on the weights"),
                       Mistake('unscaled_prediction = "larger"', "larger scores make the weights more decided"))),
    Exercise(checker=check_listing_prediction, reference="attn_course.exercises.mathematics.LISTING_PREDICTION",
             chapter="04b_case_studies", solution="listing_prediction", level="predict",
             mistakes=(Mistake('listing_prediction = "number"', "never sums products of components"),
                       Mistake('listing_prediction = "error"', "Python accepts an int times a list"))),
    Exercise(checker=check_softmax_jacobian, reference="attn_course.exercises.mathematics.softmax_jacobian",
             chapter="04_mathematics", solution="softmax_jacobian", level="derive", points=2,
             mistakes=(Mistake("import numpy as np\ndef softmax_jacobian(z):\n"
                               "    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()\n"
                               "    return np.diag(p * (1 - p))", "the off-diagonal entries are zero"),
                       Mistake("import numpy as np\ndef softmax_jacobian(z):\n"
                               "    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()\n"
                               "    return np.diag(p) - p @ p", "the same number is subtracted from every entry"),
                       Mistake("import numpy as np\ndef softmax_jacobian(z):\n"
                               "    p = np.exp(z) / np.exp(z).sum()\n"
                               "    return np.diag(p) - np.outer(p, p)", "exp(800) overflows"))),
    Exercise(checker=check_masked_attention_backward,
             reference="attn_course.backward.scaled_dot_product_attention_backward",
             chapter="04_mathematics", solution="masked_attention_backward", level="hard", points=3,
             mistakes=(Mistake("import numpy as np\nimport attn_course as ac\n"
                               "def masked_attention_backward(q, k, v, grad_output, *, mask):\n"
                               "    scale = 1 / np.sqrt(q.shape[-1])\n"
                               "    w = ac.softmax(q @ k.T * scale, mask=mask)\n"
                               "    dw = grad_output @ v.T\n"
                               "    ds = w * (dw - (w * dw).sum(axis=-1, keepdims=True))\n"
                               "    return ds @ k * scale, ds.T @ q * scale, w.T @ grad_output",
                               "right for 2-D inputs, but"),
                       Mistake("import numpy as np\nimport attn_course as ac\n"
                               "def masked_attention_backward(q, k, v, grad_output, *, mask):\n"
                               "    scale = 1 / np.sqrt(q.shape[-1])\n"
                               "    t = lambda x: np.swapaxes(x, -1, -2)\n"
                               "    w = ac.softmax(q @ t(k) * scale)\n"
                               "    dw = grad_output @ t(v)\n"
                               "    ds = w * (dw - (w * dw).sum(axis=-1, keepdims=True))\n"
                               "    return ds @ k * scale, t(ds) @ q * scale, t(w) @ grad_output",
                               "WITHOUT the mask"),
                       Mistake("import numpy as np\nimport attn_course as ac\n"
                               "def masked_attention_backward(q, k, v, grad_output, *, mask):\n"
                               "    scale = 1 / np.sqrt(q.shape[-1])\n"
                               "    t = lambda x: np.swapaxes(x, -1, -2)\n"
                               "    w = ac.softmax(q @ t(k) * scale, mask=mask)\n"
                               "    dw = grad_output @ t(v)\n"
                               "    ds = w * (dw - (w * dw).sum(axis=-1, keepdims=True))\n"
                               "    return ds @ k * scale, t(ds) @ q, t(w) @ grad_output",
                               "dk is sqrt(d_k) times too large"))),
]
