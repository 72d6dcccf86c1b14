"""Checkers for the exercises of chapter 9 (the FAQ), NumPy only.

    check_permutation_test(fn)   fn(layer, x, perm) -> bool: does the layer commute with reordering its input?
    check_four_steps(fn)         fn(x, W_q, W_k, W_v) -> (output, weights): the FAQ's four steps of self-attention
    check_attention_entropy(fn)  fn(weights) -> the entropy of each query's distribution over the keys
    check_entropy_prediction(h)  predict: the entropy of a causally masked row with equal scores
    check_window_scores(fn)      derive: fn(n, window) -> the scores of causal sliding-window attention
    check_masked_lm_loss(fn)     hard: fn(logits, targets, masked) -> BERT's masked-LM loss

The references: commutes, four_steps (the package's scaled_dot_product_attention on projections) and
attention_entropy.
"""
import numpy as np

from ..attention import scaled_dot_product_attention
from ..positional import sinusoidal_encoding
from ..softmax import softmax
from .feedback import Feedback, call, call_for_pair, checker, fail, not_written
from .registry import Exercise, Mistake


# ---------------------------------------------------------------------------------------------------
# Exercise 9.1: which layers commute with a permutation of the positions?

def _layers(d=4, seed=0):
    """name -> (layer, equivariant?). Each layer maps x: (n, d) to (n, d)."""
    rng = np.random.default_rng(seed)
    W, W_h = rng.standard_normal((2, d, d)) / np.sqrt(d)

    def self_attention(x):
        return scaled_dot_product_attention(x, x, x)[0]

    def per_position(x):
        return np.tanh(x @ W)

    def recurrent(x):
        h, out = np.zeros(d), []
        for x_t in x:
            h = np.tanh(h @ W_h + x_t @ W)
            out.append(h)
        return np.array(out)

    def self_attention_with_positions(x):
        z = x + sinusoidal_encoding(len(x), d)
        return scaled_dot_product_attention(z, z, z)[0]

    def causal_self_attention(x):
        return scaled_dot_product_attention(x, x, x, causal=True)[0]

    def mean_of_all(x):
        return np.repeat(x.mean(axis=0, keepdims=True), len(x), axis=0)

    return {"self-attention": (self_attention, True),
            "per-position layer tanh(x W)": (per_position, True),
            "recurrent layer": (recurrent, False),
            "self-attention with positional encodings": (self_attention_with_positions, False),
            "causal self-attention": (causal_self_attention, False),
            "mean of all positions": (mean_of_all, True)}


def commutes(layer, x, perm):
    """The reference: does reordering the input reorder the output the same way?"""
    return bool(np.allclose(layer(x[perm]), layer(x)[perm]))


@checker
def check_permutation_test(fn):
    """Check `fn(layer, x, perm) -> bool`: True when layer(x[perm]) equals layer(x)[perm] up to rounding
    (the layer is permutation-equivariant), for x: (n, d), perm a permutation of range(n).

    Tried on six layers, three that are equivariant and three that are not."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 4))           # n = 5 positions, d = 4: n != d, so x[:, perm] fails
    perm = np.array([1, 2, 3, 4, 0])          # a 5-cycle: no position stays, and perm is not its own inverse
    layers = _layers()
    answers = {}
    for name, (layer, _) in layers.items():
        answer, error = call(fn, layer, x.copy(), perm.copy())
        if error is not None:
            if "IndexError" in error.message or "out of bounds" in error.message:
                return fail(error.message + ": look at which axis of x you reorder",
                            "perm reorders the positions, the ROWS of x", "x[perm], and layer(x)[perm]")
            return fail(f"on the {name}: {error.message}", *error.hints)
        if np.ndim(answer) != 0 or not isinstance(answer, (bool, np.bool_)):
            return fail(f"expected one bool; on the {name} you returned {type(answer).__name__} of shape "
                        f"{np.shape(answer)}: look at the comparison", "np.isclose compares entry by entry; one "
                        "answer for the whole layer is needed", "np.allclose(layer(x[perm]), layer(x)[perm])")
        answers[name] = bool(answer)
    truth = {name: equivariant for name, (_, equivariant) in layers.items()}
    if answers == truth:
        return Feedback(True, "correct: self-attention, a per-position layer and a mean commute with reordering "
                              "the positions; recurrence, positional encodings and a causal mask do not")

    def signature(test):
        return {name: bool(test(layer)) for name, (layer, _) in layers.items()}

    inverse = np.argsort(perm)
    if answers == signature(lambda L: np.allclose(L(x[perm]), L(x))) or \
            answers == signature(lambda L: np.allclose(L(x[perm]), L(x)[inverse])):
        return fail("you said no for self-attention: look at what you compare layer(x[perm]) with",
                    "the output of a reordered input is not the SAME (invariance) and not permuted back the other way: "
                    "it moves WITH the input", "np.allclose(layer(x[perm]), layer(x)[perm])")
    if answers == signature(lambda L: np.array_equal(L(x[perm]), L(x)[perm])):
        return fail("you said no for layers that do commute: look at how you compare two float arrays",
                    "a permuted input sums the same numbers in another order, which can change the last bits",
                    "compare with np.allclose, not exact equality")
    wrong = [name for name in truth if answers[name] != truth[name]]
    return fail(f"wrong for: {', '.join(wrong)}: look at what your function compares",
                "run the layer on x[perm] and compare with layer(x)[perm]",
                "np.allclose(layer(x[perm]), layer(x)[perm])")


# ---------------------------------------------------------------------------------------------------
# Exercise 9.2: the four steps of the source's §9.4, done right.

def _steps_case(seed=2, n=5, d_model=6, d_k=3, d_v=2, scale=1.0):
    rng = np.random.default_rng(seed)
    x = scale * rng.standard_normal((n, d_model))
    W_q, W_k = rng.standard_normal((2, d_model, d_k))
    W_v = rng.standard_normal((d_model, d_v))
    return x, W_q, W_k, W_v


def four_steps(x, W_q, W_k, W_v):
    """The reference: project, then scaled dot-product attention. -> (output (n, d_v), weights (n, n))"""
    return scaled_dot_product_attention(x @ W_q, x @ W_k, x @ W_v)


@checker
def check_four_steps(fn):
    """Check `fn(x, W_q, W_k, W_v) -> (output, weights)`, self-attention in four steps:
    1. q, k, v = x W_q, x W_k, x W_v   2. scores q k^T / sqrt(d_k)   3. softmax over the keys   4. weights v.

    x: (n, d_model)  W_q, W_k: (d_model, d_k)  W_v: (d_model, d_v)  ->  output (n, d_v), weights (n, n)."""
    x, W_q, W_k, W_v = _steps_case()
    n, d_model, d_k, d_v = len(x), x.shape[1], W_k.shape[1], W_v.shape[1]
    pair, error = call_for_pair(fn, x, W_q, W_k, W_v)
    if error is not None:
        return error
    output, weights = pair
    fix = "q, k, v = x @ W_q, x @ W_k, x @ W_v; weights = softmax(q @ k.T / np.sqrt(d_k), axis=-1); output = weights @ v"
    if weights.shape != (n, n):
        return fail(f"weights has shape {weights.shape}, expected (n, n) = {(n, n)}: one row per query position, one "
                    "column per key position. Look at the scores", "scores = q @ k.T", fix)
    if output.shape != (n, d_v):
        if output.shape == (n, d_model):
            return fail(f"output has shape {output.shape}, d_model columns: the inputs x were averaged. Look at step 4",
                        "step 4 averages the VALUES x W_v", fix)
        if output.shape == (n, d_k):
            return fail(f"output has shape {output.shape}, d_k columns: the queries or keys were averaged. Look at "
                        "step 4", "step 4 averages the VALUES x W_v", fix)
        return fail(f"output has shape {output.shape}, expected (n, d_v) = {(n, d_v)}: look at step 4", fix)
    if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(output))):
        return fail("weights or output contain NaN or inf on ordinary inputs: look at the softmax", fix)
    if not np.allclose(weights.sum(axis=-1), 1.0, atol=1e-6) or (weights < 0).any():
        if np.allclose(weights.sum(axis=0), 1.0, atol=1e-6):
            return fail("each row of weights should sum to 1, but the columns do: look at the axis your softmax "
                        "normalises over", "step 3 normalises over the keys, the last axis", "softmax(..., axis=-1)")
        return fail(f"each row of weights must be a distribution over the keys; the row sums are "
                    f"{np.round(weights.sum(axis=-1), 4).tolist()}: look at step 3",
                    "exp alone is not a distribution: divide by the sum over the keys", "softmax(..., axis=-1)")

    q, k = x @ W_q, x @ W_k
    scores = q @ k.T
    expected_output, expected = four_steps(x, W_q, W_k, W_v)
    if not np.allclose(weights, expected, atol=1e-6):
        if np.allclose(weights, softmax(scores), atol=1e-6):
            return fail("the weights are too peaked: the scores are not scaled. Look at step 2 (the source's §9.4 only "
                        "says 'inner product')", "without the scale the softmax saturates as d_k grows",
                        f"divide q k^T by sqrt(d_k) = {np.sqrt(d_k):.3g}")
        if np.allclose(weights, softmax(scores / np.sqrt(d_model)), atol=1e-6):
            return fail(f"the scores are divided by sqrt(d_model) = {np.sqrt(d_model):.3g}: look at the scale",
                        "the scale is set by the size of a query and a key", f"sqrt(d_k) = {np.sqrt(d_k):.3g}")
        if np.allclose(weights, softmax(expected), atol=1e-6):
            return fail("softmax is applied twice (the source's §2.5 error): the weights are too flat. Look at step 3",
                        "the weights are the softmax of the scaled scores, once", fix)
        if np.allclose(weights, softmax((x @ W_q) @ (x @ W_q).T / np.sqrt(d_k)), atol=1e-6) or \
                np.allclose(weights, softmax((x @ W_k) @ (x @ W_k).T / np.sqrt(d_k)), atol=1e-6):
            return fail("queries and keys use the same projection: look at step 1", "q = x W_q, k = x W_k")
        if np.allclose(weights, softmax(x @ x.T / np.sqrt(d_model)), atol=1e-6):
            return fail("the inputs are compared without projections: look at step 1",
                        "step 1 makes q = x W_q and k = x W_k", fix)
        return fail("weights differ from softmax((x W_q)(x W_k)^T / sqrt(d_k)) along each row: look at steps 1 and 2",
                    fix)
    if not np.allclose(output, expected_output, atol=1e-6):
        return fail("the weights are right but the output is not their weighted sum of the values: look at step 4",
                    "output = weights @ (x @ W_v)")

    # Large inputs: scores in the thousands must not overflow the softmax.
    big = _steps_case(scale=30.0)
    result, error = call(fn, *big)
    if error is not None:
        return fail(f"with large inputs {error.message[0].lower()}{error.message[1:]}: look at the softmax",
                    "subtract each row's largest score before exp")
    output_big, weights_big = (np.asarray(r, dtype=np.float64) for r in result)
    if not (np.all(np.isfinite(weights_big)) and np.all(np.isfinite(output_big))):
        return fail("with large inputs (scores in the thousands) the weights overflow to NaN/inf: look at the "
                    "exponentials", "exp overflows float64 past 709; softmax is shift invariant",
                    "subtract each row's largest score before exp")
    return Feedback(True, "correct: project, scale by sqrt(d_k), one stable softmax over the keys, weighted sum of "
                          "the values")


# ---------------------------------------------------------------------------------------------------
# Exercise 9.3: how spread out is each query's attention? (the entropy of each row)

def attention_entropy(weights):
    """The reference answer: -sum_j w_ij ln w_ij for each query i, in nats, with 0 ln 0 = 0.
    weights: (..., n_q, n_k) -> (..., n_q). 0 for a one-hot row, ln(n_k) for a uniform one."""
    w = np.asarray(weights, dtype=np.float64)
    terms = np.zeros_like(w)
    np.multiply(w, np.log(w, where=w > 0, out=np.zeros_like(w)), out=terms, where=w > 0)
    return -terms.sum(axis=-1) + 0.0  # + 0.0: a one-hot row gives 0, not -0


def _entropy_case():
    """(4, 5): uniform, one-hot, a masked key (an exact 0) among three, and an ordinary row."""
    return np.array([[0.2, 0.2, 0.2, 0.2, 0.2],
                     [0.0, 0.0, 1.0, 0.0, 0.0],
                     [0.5, 0.0, 0.25, 0.25, 0.0],
                     [0.1, 0.4, 0.3, 0.15, 0.05]])


@checker
def check_attention_entropy(fn):
    """Check `fn(weights) -> entropies`: for weights (..., n_q, n_k), each row a distribution over the keys,
    the entropy of each row in nats, -sum_j w_ij ln w_ij (with 0 ln 0 = 0), of shape (..., n_q)."""
    w = _entropy_case()
    n_q, n_k = w.shape
    right = attention_entropy(w)
    result, error = call(fn, w.copy())
    if error is not None:
        return error
    try:
        h = np.asarray(result, dtype=np.float64)
    except (TypeError, ValueError):
        return fail(f"expected an array of entropies, got {type(result).__name__}: look at what you return",
                    "-(w * log w).sum(axis=-1), with 0 log 0 = 0")
    fix = "-np.where(w > 0, w * np.log(np.where(w > 0, w, 1.0)), 0.0).sum(axis=-1)"
    if h.shape == ():
        return fail(f"expected one entropy per query, shape (n_q,) = ({n_q},), got one number for the whole matrix: "
                    "look at the axis you sum over", "sum over the keys only", "axis=-1: " + fix)
    if h.shape == (n_k,):
        return fail(f"got shape ({n_k},), one value per KEY (column): look at the axis you sum over",
                    "each query (row) is a distribution", "sum over the keys, axis=-1: " + fix)
    if h.shape != (n_q,):
        return fail(f"expected shape (n_q,) = ({n_q},), one entropy per query, got {h.shape}: look at the axis you "
                    "sum over", fix)
    if np.isnan(h).any():
        rows = np.flatnonzero(np.isnan(h)).tolist()
        return fail(f"rows {rows} give NaN: they hold weights of exactly 0 (a masked key, a one-hot row). Look at "
                    "what 0 * log(0) gives", "0 * -inf = nan, but the limit of w ln w as w -> 0 is 0",
                    "skip the zeros: " + fix)
    if not np.allclose(h, right):
        if np.allclose(h, -right):
            return fail("the entropies are negative: look at the sign",
                        "each ln w_ij <= 0, so H = -sum_j w_ij ln w_ij >= 0", fix)
        if np.allclose(h, right / np.log(2)):
            return fail("these are bits (log base 2): look at the base of your log",
                        "nats: a uniform row over n keys gives ln(n)", "np.log, not np.log2: " + fix)
        if np.allclose(h, right / n_k):
            return fail("that is the mean over the keys: look at how you combine the terms",
                        "the entropy is the SUM over the keys", fix)
        if np.allclose(h[[0, 3]], right[[0, 3]]):
            return fail("right on rows without zeros, wrong where some weights are exactly 0: look at those terms",
                        "0 * ln 0 counts as 0; a small epsilon changes every term", fix)
        return fail(f"for weights {w[3].tolist()} the entropy is {right[3]:.4f} nats, you gave {h[3]:.4f}: look at "
                    "each term", "H = -sum_j w_ij ln w_ij", fix)

    batch = np.stack([w, w[::-1]])                      # (2, n_q, n_k): a batch of two matrices
    result_b, error = call(fn, batch)
    if error is not None or np.shape(result_b) != (2, n_q) or not np.allclose(result_b, attention_entropy(batch)):
        return fail(f"right for one matrix, but not for a batch of shape {batch.shape}: look at the axis you sum over",
                    "leading dimensions (batch, heads) must be kept", "sum over axis=-1, not axis=1")
    return Feedback(True, f"correct: 0 for a one-hot row, ln({n_k}) = {np.log(n_k):.3f} for a uniform one, and it "
                          "works on (batch, heads, n_q, n_k) too")


# ---------------------------------------------------------------------------------------------------
# Exercise 9.4 (predict): the entropy of a masked row

def _masked_row_entropy():
    """The entropy (nats) of query 2's row under a causal mask over 6 keys, all its scores equal."""
    from ..attention import causal_mask
    w = softmax(np.zeros((6, 6)), mask=causal_mask(6))[2]          # (6,): 1/3 on keys 0, 1, 2, 0 after
    return float(-(w[w > 0] * np.log(w[w > 0])).sum())


ROW_ENTROPY = _masked_row_entropy()  # the reference prediction, computed


@checker
def check_entropy_prediction(row_entropy):
    """Check a prediction `row_entropy`: the entropy, in nats, of query 2's weights in causal self-attention
    over 6 positions (counting from 0), when all its scores are equal."""
    if row_entropy is Ellipsis:
        return not_written("your prediction `row_entropy`", "the `...` after `row_entropy =`")
    try:
        got = float(row_entropy)
    except (TypeError, ValueError):
        return Feedback(False, f"write the prediction as a number, got {row_entropy!r}")
    if np.isclose(got, ROW_ENTROPY, atol=0.005):
        return Feedback(True, f"right: ln 3 = {ROW_ENTROPY:.3f} nats. The mask leaves query 2 the keys 0, 1 and 2, "
                              "equal scores give each 1/3, and a uniform row over k keys has entropy ln k")
    if np.isclose(got, np.log(6), atol=0.005):
        return Feedback(False, f"{got:.3f} = ln 6 spreads the weight over all 6 keys: which keys may query 2 see?",
                        hints=("under the causal mask query i sees the keys j <= i", "3 keys of weight 1/3: ln 3"))
    if np.isclose(got, np.log2(3), atol=0.005) or np.isclose(got, np.log2(6), atol=0.005):
        return Feedback(False, f"{got:.3f} is in bits (log base 2): the chapter measures entropy in nats",
                        hints=("H = -sum w ln w, with the natural logarithm", f"ln 3 = {np.log(3):.3f}"))
    if np.isclose(got, 3) or np.isclose(got, 1 / 3):
        return Feedback(False, f"{got:g} is a count or a weight, not an entropy: what is -sum w ln w for the row?",
                        hints=("the row is (1/3, 1/3, 1/3, 0, 0, 0)", "-3 (1/3) ln(1/3) = ln 3"))
    if np.isclose(got, np.log(2), atol=0.005):
        return Feedback(False, f"{got:.3f} = ln 2: does query 2 see its own key?",
                        hints=("the causal mask allows j <= i, the diagonal included", "keys 0, 1, 2: ln 3"))
    return Feedback(False, f"{got:.3f} nats is not it: which weights does query 2's row hold?",
                    hints=("the causal mask leaves keys 0 .. 2, equal scores share the weight evenly",
                           f"ln 3 = {np.log(3):.3f}"))


# ---------------------------------------------------------------------------------------------------
# Exercise 9.5 (derive): how many scores does causal sliding-window attention compute?

def causal_window_scores(n, window):
    """The reference: the (query, key) pairs of causal attention over n positions in which query i sees the keys
    i - window .. i: the first `window` queries see i + 1 keys, the others window + 1."""
    w = min(window, n - 1)
    return (w + 1) * n - w * (w + 1) // 2


@checker
def check_window_scores(fn):
    """Check `fn(n, window) -> int`: the number of scores q_i . k_j that causal sliding-window attention computes,
    query i seeing the keys j with i - window <= j <= i, checked by counting the True entries of
    attn_course.efficient.band_mask(n, window, causal=True)."""
    from ..efficient import band_mask
    for n, window in [(10, 3), (1000, 128), (7, 0), (50, 49), (12, 20)]:
        answer, error = call(fn, n, window)
        if error is not None:
            return error
        case = f"n = {n}, window = {window}"
        try:
            got = float(answer)
        except (TypeError, ValueError):
            return Feedback(False, f"{case}: return a number, got {type(answer).__name__}")
        right = int(band_mask(n, window, causal=True).sum())
        if got == right:
            continue
        if got == n * (window + 1):
            return Feedback(False, f"{case}: you returned n (window + 1) = {got:g}: do the first queries have "
                                   "window + 1 keys to see?",
                            hints=("query 0 sees only key 0; query i < window sees i + 1 keys",
                                   "sum over i of min(i + 1, window + 1) = (w + 1) n - w (w + 1) / 2, "
                                   "with w = min(window, n - 1)"))
        if got == n * (2 * window + 1) or got == int(band_mask(n, window).sum()):
            return Feedback(False, f"{case}: you returned {got:g}, which counts keys on both sides of the query: "
                                   "which keys may a causal query see?",
                            hints=("causal: j <= i; the window: j >= i - window", "(w + 1) n - w (w + 1) / 2"))
        if got == n * (n + 1) // 2:
            return Feedback(False, f"{case}: you returned n (n + 1) / 2, all of causal attention: where does the "
                                   "window cut it?",
                            hints=("query i sees at most window + 1 keys", "(w + 1) n - w (w + 1) / 2"))
        if window >= n and got == (window + 1) * n - window * (window + 1) // 2:
            return Feedback(False, f"{case}: a window longer than the sequence: no query sees more than n keys",
                            hints=("clip the window to n - 1", "w = min(window, n - 1)"))
        return Feedback(False, f"{case}: expected {right}, got {got:g}",
                        hints=("sum over the queries i of min(i + 1, window + 1)",
                               "(w + 1) n - w (w + 1) / 2 with w = min(window, n - 1)"))
    return Feedback(True, "correct: (w + 1) n - w (w + 1) / 2 with w = min(window, n - 1), linear in n for a fixed "
                          "window: at n = 1000 and a window of 128, "
                          f"{causal_window_scores(1000, 128) / (1000 * 1001 // 2):.1%} of causal attention's scores")


# ---------------------------------------------------------------------------------------------------
# Exercise 9.6 (hard): the masked-language-model loss

def masked_lm_loss(logits, targets, masked):
    """The reference: the mean cross-entropy (nats) over the masked positions only, as BERT is trained.
    logits: (..., n, vocab); targets: (..., n) ids; masked: (..., n) bool, True where the token was hidden."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)                          # stable: exp(<= 0)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))          # (..., n, vocab)
    nll = -np.take_along_axis(log_p, np.asarray(targets)[..., None], axis=-1)[..., 0]  # (..., n)
    return float(nll[np.asarray(masked)].mean())


def _mlm_case(seed=96, batch=3, n=7, vocab=11, scale=1.0):
    rng = np.random.default_rng(seed)
    logits = scale * rng.normal(0, 2, (batch, n, vocab))
    targets = rng.integers(0, vocab, (batch, n))
    masked = np.zeros((batch, n), dtype=bool)
    masked[0, [1, 4]] = masked[1, [0, 2, 3, 6]] = masked[2, 5] = True    # 2, 4 and 1 hidden tokens
    return logits, targets, masked


@checker
def check_masked_lm_loss(fn):
    """Check `fn(logits, targets, masked) -> float`: the mean, over the masked positions of the whole batch, of
    -log softmax(logits)[target]: logits (batch, n, vocab), targets (batch, n) ids, masked (batch, n) bool.
    The batch's sequences hide different numbers of tokens; one case has logits near 1000."""
    for scale, what in ((1.0, "ordinary logits"), (500.0, "logits of several hundred")):
        logits, targets, masked = _mlm_case(scale=scale)
        answer, error = call(fn, logits.copy(), targets.copy(), masked.copy())
        if error is not None:
            return Feedback(False, f"{what}: {error.message}")
        try:
            got = float(answer)
        except (TypeError, ValueError):
            return Feedback(False, f"return one number, the mean loss, got {type(answer).__name__}")
        right = masked_lm_loss(logits, targets, masked)
        if np.isclose(got, right, rtol=1e-9):
            continue
        if not np.isfinite(got):
            return Feedback(False, f"{what}: the loss is {got}: which exponential overflows?",
                            hints=("exp(500) overflows float64 long before the softmax divides it",
                                   "subtract each row's maximum before exp: log_softmax(z) = (z - m) - log sum exp(z - m)"))
        shifted = logits - logits.max(axis=-1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        nll = -np.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]
        if np.isclose(got, nll.mean()):
            return Feedback(False, f"{what}: you averaged over EVERY position: which tokens does a masked language "
                                   "model have to predict?",
                            hints=("the loss counts only the positions whose token was hidden",
                                   "nll[masked].mean()"))
        if np.isclose(got, np.mean([nll[b][masked[b]].mean() for b in range(len(nll))])):
            return Feedback(False, f"{what}: you averaged each sequence's loss, then the sequences: does every hidden "
                                   "token count the same?",
                            hints=("the sequences hide 2, 4 and 1 tokens: a mean of means weights them unequally",
                                   "one mean over all the masked positions of the batch, not a mean of means: nll[masked].mean()"))
        if np.isclose(got, nll[~masked].mean()):
            return Feedback(False, f"{what}: you averaged over the positions that were NOT hidden: what does True "
                                   "mean in `masked`?",
                            hints=("masked is True where the token was hidden, and those are the ones to predict",
                                   "nll[masked].mean()"))
        if np.isclose(got, -np.take_along_axis(logits, targets[..., None], -1)[..., 0][masked].mean()):
            return Feedback(False, f"{what}: you used the logits as log-probabilities: logits are not normalised",
                            hints=("log p = log_softmax(logits)", "(z - m) - log sum exp(z - m), m the row's maximum"))
        if np.isclose(got, nll[masked].sum()):
            return Feedback(False, f"{what}: you returned the SUM over the masked positions: the loss is a mean",
                            hints=("divide by the number of masked positions", "nll[masked].mean()"))
        return Feedback(False, f"{what}: expected {right:.6g}, got {got:.6g}",
                        hints=("log_softmax over the vocabulary, the target's entry, masked positions only",
                               "nll[masked].mean() with nll = -log_softmax(logits)[target]"))
    return Feedback(True, "correct: a stable log-softmax over the vocabulary, the target's negative log-probability, "
                          "averaged over the hidden tokens of the whole batch and over nothing else")


def _commutes_mistake(body):
    return f"def commutes(layer, x, perm):\n    return {body}\n"


def _steps_mistake(weights, v="x @ W_v", k="x @ W_k", output="weights @ v"):
    return ("from attn_course import softmax\n\ndef four_steps(x, W_q, W_k, W_v):\n"
            f"    q, k, v = x @ W_q, {k}, {v}\n    d_k, d_model = q.shape[-1], x.shape[-1]\n"
            f"    weights = {weights}\n    return {output}, weights\n")


def _entropy_mistake(body):
    return f"def attention_entropy(weights):\n    w = weights\n    return {body}\n"


SCALED = "q @ k.T / np.sqrt(d_k)"
SAFE = "np.where(w > 0, w * np.log(np.where(w > 0, w, 1.0)), 0.0)"

EXERCISES = [
    Exercise(checker=check_permutation_test, reference="attn_course.exercises.faq.commutes",
             chapter="09_faq", solution="commutes", level="debug", mistakes=(
                 Mistake(_commutes_mistake("np.allclose(layer(x[perm]), layer(x))"), "you said no for self-attention"),
                 Mistake(_commutes_mistake("np.allclose(layer(x[perm]), layer(x)[np.argsort(perm)])"),
                         "you said no for self-attention"),
                 Mistake(_commutes_mistake("np.allclose(layer(x[:, perm]), layer(x)[:, perm])"), "which axis of x"),
                 Mistake(_commutes_mistake("np.isclose(layer(x[perm]), layer(x)[perm])"), "expected one bool"),
                 Mistake(_commutes_mistake("True"), "wrong for: recurrent layer"),
                 Mistake(_commutes_mistake("1"), "int"),
             )),
    Exercise(checker=check_four_steps, reference="attn_course.exercises.faq.four_steps",
             chapter="09_faq", solution="four_steps", level="implement", mistakes=(
                 Mistake(_steps_mistake("softmax(q @ k.T)"), "not scaled"),                          # missing sqrt(d_k)
                 Mistake(_steps_mistake("softmax(q @ k.T / np.sqrt(d_model))"), "sqrt(d_model)"),
                 Mistake(_steps_mistake(f"softmax(softmax({SCALED}))"), "twice"),
                 Mistake(_steps_mistake(f"softmax({SCALED}, axis=0)"), "but the columns do"),
                 Mistake(_steps_mistake(f"np.exp({SCALED})"), "row sums"),
                 Mistake(_steps_mistake(f"softmax({SCALED})", v="x"), "d_model columns"),
                 Mistake(_steps_mistake(f"softmax({SCALED})", k="x @ W_q"), "same projection"),
                 Mistake(_steps_mistake("softmax(x @ x.T / np.sqrt(d_model))"), "without projections"),
                 Mistake(_steps_mistake(f"np.exp({SCALED}) / np.exp({SCALED}).sum(axis=-1, keepdims=True)"),
                         "overflow"),
                 Mistake("from attn_course import softmax\n\ndef four_steps(x, W_q, W_k, W_v):\n"
                         "    q, k, v = x @ W_q, x @ W_k, x @ W_v\n"
                         f"    return softmax({SCALED.replace('d_k', 'q.shape[-1]')}) @ v\n", "expected a pair"),
             )),
    Exercise(checker=check_attention_entropy, reference="attn_course.exercises.faq.attention_entropy",
             chapter="09_faq", solution="attention_entropy", level="debug", mistakes=(
                 Mistake(_entropy_mistake("-(w * np.log(w)).sum(axis=-1)"), "rows [1, 2] give NaN"),
                 Mistake(_entropy_mistake(f"({SAFE}).sum(axis=-1)"), "negative"),
                 Mistake(_entropy_mistake(f"-({SAFE}).sum(axis=-1) / np.log(2)"), "bits"),
                 Mistake(_entropy_mistake(f"-({SAFE}).mean(axis=-1)"), "mean over the keys"),
                 Mistake(_entropy_mistake(f"-({SAFE}).sum(axis=0)"), "one value per KEY"),
                 Mistake(_entropy_mistake(f"-({SAFE}).sum()"), "one number for the whole matrix"),
                 Mistake(_entropy_mistake("np.nan_to_num(-(w * np.log(w + 1e-3)).sum(axis=-1))"), "the entropy is"),
                 Mistake(_entropy_mistake(f"-({SAFE}).sum(axis=1)"), "for a batch"),             # batch ignored
                 Mistake(_entropy_mistake("'high'"), "expected an array of entropies"),
             )),
    Exercise(checker=check_entropy_prediction, reference="attn_course.exercises.faq.ROW_ENTROPY",
             chapter="09_faq", solution="row_entropy", level="predict", points=1,
             mistakes=(Mistake("row_entropy = np.log(6)", "which keys may query 2 see"),
                       Mistake("row_entropy = np.log2(3)", "in bits"),
                       Mistake("row_entropy = np.log(2)", "its own key"))),
    Exercise(checker=check_window_scores, reference="attn_course.exercises.faq.causal_window_scores",
             chapter="09_faq", solution="window_scores", level="derive", points=2,
             mistakes=(Mistake("def window_scores(n, window):\n    return n * (window + 1)", "do the first queries"),
                       Mistake("def window_scores(n, window):\n    return n * (2 * window + 1)", "both sides"),
                       Mistake("def window_scores(n, window):\n    return (window + 1) * n - window * (window + 1) // 2",
                               "longer than the sequence"))),
    Exercise(checker=check_masked_lm_loss, reference="attn_course.exercises.faq.masked_lm_loss",
             chapter="09_faq", solution="mlm_loss", level="hard", points=3,
             mistakes=(Mistake("def mlm_loss(logits, targets, masked):\n"
                               "    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)\n"
                               "    nll = -np.log(np.take_along_axis(p, targets[..., None], -1)[..., 0])\n"
                               "    return nll[masked].mean()", "which exponential overflows"),
                       Mistake("def mlm_loss(logits, targets, masked):\n"
                               "    z = logits - logits.max(-1, keepdims=True)\n"
                               "    lp = z - np.log(np.exp(z).sum(-1, keepdims=True))\n"
                               "    return -np.take_along_axis(lp, targets[..., None], -1).mean()", "EVERY position"),
                       Mistake("def mlm_loss(logits, targets, masked):\n"
                               "    z = logits - logits.max(-1, keepdims=True)\n"
                               "    lp = z - np.log(np.exp(z).sum(-1, keepdims=True))\n"
                               "    nll = -np.take_along_axis(lp, targets[..., None], -1)[..., 0]\n"
                               "    return np.mean([nll[b][masked[b]].mean() for b in range(len(nll))])",
                               "does every hidden token count the same"),
                       Mistake("def mlm_loss(logits, targets, masked):\n"
                               "    nll = -np.take_along_axis(logits, targets[..., None], -1)[..., 0]\n"
                               "    return nll[masked].mean()", "logits as log-probabilities"))),
]
