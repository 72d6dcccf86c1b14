"""Checkers for the exercises on the attention algorithm (chapter 3).

The references are the package's own scaled_dot_product_attention and additive_score, and attention_shapes.
Then: check_shifted_keys_prediction (predict: one vector added to every key), check_equivalent_bandwidth
(derive: h = d_k^(1/4)) and check_causal_attention_in_blocks (hard: causal attention a block of queries at
a time, whose reference is the package's causal attention).
"""
import numpy as np

from ..attention import scaled_dot_product_attention
from ..scores import additive_score
from ..softmax import softmax
from .feedback import Feedback, as_pair, call, checker, fail
from .registry import Exercise, Mistake


def _case(seed, n_q=3, n_k=5, d_k=4, d_v=2):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n_q, d_k)), rng.standard_normal((n_k, d_k)), rng.standard_normal((n_k, d_v)))


@checker
def check_attention(fn):
    """Check `fn(q, k, v) -> (output, weights)`, scaled dot-product attention for 2-D arrays.

    q: (n_q, d_k)  k: (n_k, d_k)  v: (n_k, d_v)  ->  output: (n_q, d_v)  weights: (n_q, n_k)
    """
    q, k, v = _case(0)
    n_q, n_k, d_k, d_v = q.shape[0], k.shape[0], q.shape[1], v.shape[1]
    result, error = call(fn, q, k, v)
    if error is not None:
        return error
    if as_pair(result) is None:
        return fail(f"expected a pair (output, weights), got {type(result).__name__}: look at what your function "
                    "returns", "the checker needs the weights too, to see where a mistake is",
                    "end with `return weights @ v, weights`")
    output, weights = as_pair(result)

    if weights.shape != (n_q, n_k):
        if weights.shape == (n_k, n_q):
            return fail(f"weights has shape {weights.shape}, one row per KEY; expected (n_q, n_k) = {(n_q, n_k)}, one "
                        "row per query: look at the order of the product that makes the scores",
                        "row i of the scores holds query i's dot products with every key",
                        "scores = q @ k.T, not k @ q.T")
        return fail(f"weights has shape {weights.shape}, expected (n_q, n_k) = {(n_q, n_k)}: one row per query, one "
                    "column per key; look at the product that makes the scores",
                    "q is (n_q, d_k) and k is (n_k, d_k): the product must sum over d_k", "scores = q @ k.T")
    if output.shape != (n_q, d_v):
        return fail(f"output has shape {output.shape}, expected (n_q, d_v) = {(n_q, d_v)}: one value-sized vector per "
                    "query; look at the weighted sum", "the weights are (n_q, n_k) and v is (n_k, d_v)",
                    "output = weights @ v")
    if not np.all(np.isfinite(weights)):
        return fail("weights contain NaN or inf on ordinary inputs: look at the exponentials and the division",
                    "print the scores and their exponentials for one query",
                    "softmax(scores, axis=-1), with the max subtracted before exp")

    row_sums = weights.sum(axis=-1)
    if not np.allclose(row_sums, 1.0, atol=1e-6) or (weights < 0).any():
        if np.allclose(weights.sum(axis=0), 1.0, atol=1e-6):
            return fail("each row of weights should sum to 1, but the columns do: look at the axis your softmax "
                        "normalises over", "a row holds one query's weights over the keys; the keys are the LAST axis "
                        "of the scores", "softmax(scores, axis=-1)")
        return fail(f"each row of weights must be a distribution over the keys (non-negative, summing to 1); the "
                    f"row sums are {np.round(row_sums, 4).tolist()}: look at the normalisation",
                    "exp(scores) alone is not a distribution: divide by its sum over the keys",
                    "weights = softmax(scores, axis=-1)")

    raw = q @ k.T
    expected_output, expected = scaled_dot_product_attention(q, k, v)
    if not np.allclose(weights, expected, atol=1e-6):
        if np.allclose(weights, softmax(raw), atol=1e-6):
            return fail("the weights are too peaked: they are the softmax of the raw dot products. Look at the scale "
                        "of the scores", f"a dot product of d_k = {d_k} random entries has variance d_k",
                        f"divide q @ k.T by sqrt(d_k) = {np.sqrt(d_k):g} before the softmax")
        if np.allclose(weights, softmax(raw / d_k), atol=1e-6):
            return fail(f"the weights are too flat: the scores are divided by d_k = {d_k}. Look at the scale factor",
                        "the factor makes the scores' variance 1, and the variance of q·k is d_k",
                        f"divide by sqrt(d_k) = {np.sqrt(d_k):g}, np.sqrt(q.shape[-1])")
        if np.allclose(weights, softmax(expected), atol=1e-6):
            return fail("softmax is applied twice: the weights are too flat. Look at where you normalise",
                        "the weights are the softmax of the scaled scores, once",
                        "weights = softmax(q @ k.T / np.sqrt(d_k), axis=-1), with no softmax before or after")
        return fail("weights differ from softmax(q @ k.T / sqrt(d_k)) along each row: look at the scores",
                    "compare your scores with q @ k.T / np.sqrt(q.shape[-1]) for one query",
                    "weights = softmax(q @ k.T / np.sqrt(d_k), axis=-1)")

    if not np.allclose(output, expected_output, atol=1e-6):
        if v.shape == k.shape[:1] + (d_v,) and np.allclose(output, weights @ k[:, :d_v], atol=1e-6):
            return fail("output mixes the keys: look at what the weights multiply",
                        "keys decide WHERE to look; what is read there are the values", "output = weights @ v")
        return fail("the weights are right but the output is not their weighted sum of the values: look at the last "
                    "line", "each output row is sum_j weights[i, j] * v[j]", "output = weights @ v")

    # Large but harmless scores: a softmax that exponentiates without subtracting the max overflows.
    big = 1000.0 * q  # scores in the thousands: exp overflows float64 past ~709
    try:
        with np.errstate(all="ignore"):
            out_big, w_big = (np.asarray(r, dtype=np.float64) for r in fn(big, k, v))
    except Exception as e:
        return fail(f"with large scores your function raised {type(e).__name__}: {e}: look at the softmax",
                    "try your function on 1000 * q", "use a stable softmax: subtract each row's max before exp")
    if not (np.all(np.isfinite(w_big)) and np.all(np.isfinite(out_big))):
        return fail("with large scores (in the thousands) the weights overflow to NaN/inf: look at the "
                    "exponentials of your softmax",
                    "exp(1000) overflows float64; softmax(s) = softmax(s - c) for any constant c per row",
                    "subtract each row's maximum score before exp: s - s.max(axis=-1, keepdims=True)")
    reference, _ = scaled_dot_product_attention(big, k, v)
    if not np.allclose(out_big, reference, atol=1e-6):
        return fail("with large scores the output is wrong, though finite: look at the softmax's stability",
                    "the constant subtracted before exp must be each row's own maximum",
                    "s - s.max(axis=-1, keepdims=True)")

    # Batches: leading dimensions must pass through (q @ k.T breaks on 3-D arrays; swapaxes does not).
    qb, kb, vb = (np.stack([a, a[::-1]]) for a in _case(1))
    try:
        out_b, w_b = (np.asarray(r, dtype=np.float64) for r in fn(qb, kb, vb))
        ok = out_b.shape == (2, n_q, d_v) and np.allclose(out_b, scaled_dot_product_attention(qb, kb, vb)[0])
    except Exception:
        ok = False
    if not ok:
        return Feedback(True, "correct on 2-D inputs. Going further: make it work on batches "
                              "(..., n, d) too, e.g. with np.swapaxes(k, -1, -2) instead of k.T")
    return Feedback(True, "correct: scaled scores, stable softmax over the keys, weighted sum of the values, "
                          "and it works on batches")


# ---------------------------------------------------------------------------------------------------
# Exercise 3.1: read the shapes of attention.

def _shape(x):
    """A shape given as a tuple, a list or a NumPy shape, as a tuple of ints; None when it is not one."""
    try:
        shape = tuple(int(n) for n in x)
    except (TypeError, ValueError):
        return None
    return shape if all(n >= 0 for n in shape) else None


def _diagnose_shapes(got, n_q, n_k, d_k, d_v):
    """The first wrong shape in `got` ({"scores", "weights", "output"} -> shape), as (message, *hints), the last
    hint the fix; None if all are right."""
    for name, want in attention_shapes(n_q, n_k, d_k, d_v).items():
        shape = _shape(got[name])
        if shape is None:
            return (f"{name}: expected a shape such as (2, 3), got {got[name]!r}", "a shape is a tuple of ints")
        if shape == want:
            continue
        if name in ("scores", "weights"):
            if shape == (n_k, n_q):
                return (f"{name} is {shape}, one row per KEY: look at which axis holds the queries",
                        f"{name} has one row per QUERY and one column per key", f"(n_q, n_k) = {want}")
            if shape in ((n_q, n_k, d_k), (n_q, d_k)):
                return (f"{name} is {shape}: look at what happens to d_k in a dot product",
                        "a score is ONE number per (query, key) pair: the dot product sums over d_k",
                        f"(n_q, n_k) = {want}")
            if name == "weights" and shape in ((n_k,), (n_q,)):
                return (f"weights is {shape}, one vector: look at how many queries there are",
                        "every query has its own distribution over the keys, so there is a matrix of them",
                        f"(n_q, n_k) = {want}")
            return (f"{name} is {shape}: look at what one entry of {name} is",
                    "one row per query, one column per key", f"(n_q, n_k) = {want}")
        if shape == (n_q, d_k) and d_k != d_v:
            return (f"output is {shape}: its last dimension is d_k = {d_k}. Look at what the output is a weighted "
                    "sum of", "the output is a weighted sum of the VALUES",
                    f"its last dimension is d_v = {d_v}: (n_q, d_v) = {want}")
        if shape == (n_k, d_v):
            return (f"output is (n_k, d_v) = {shape}: look at who gets an output",
                    "there is one output per QUERY: each query gets its own mix of the values", f"(n_q, d_v) = {want}")
        if shape == (n_q, n_k, d_v):
            return (f"output is {shape}: it still has the key axis. Look at what the weighted sum adds up",
                    "the weighted sum adds up the weighted values over the keys, so the key axis disappears",
                    f"(n_q, d_v) = {want}")
        if shape == (d_v,):
            return (f"output is {shape}: that is the output of ONE query; look at how many queries there are",
                    f"(n_q, d_v) = {want}")
        return (f"output is {shape}: look at what one row of the output is",
                "one value-sized vector per query", f"(n_q, d_v) = {want}")
    return None


def attention_shapes(n_q, n_k, d_k, d_v):
    """The reference: the shapes of the scores, the weights and the output."""
    return {"scores": (n_q, n_k), "weights": (n_q, n_k), "output": (n_q, d_v)}


@checker
def check_attention_shapes(fn):
    """Check `fn(n_q, n_k, d_k, d_v) -> {"scores": shape, "weights": shape, "output": shape}`: the shapes of
    the three results of attention for n_q queries and n_k keys of size d_k, and n_k values of size d_v."""
    for case in [(5, 7, 16, 8), (2, 9, 3, 6)]:
        got, error = call(fn, *case)
        if error is not None:
            return error
        if not isinstance(got, dict):
            return fail(f'expected a dict {{"scores": ..., "weights": ..., "output": ...}}, got {type(got).__name__}: '
                        "look at what your function returns", 'return {"scores": (...), "weights": (...), '
                        '"output": (...)}')
        missing = [key for key in ("scores", "weights", "output") if key not in got]
        if missing:
            return fail(f"the dict has no entry for {', '.join(map(repr, missing))}: look at its keys",
                        'the keys are "scores", "weights" and "output"')
        diagnosis = _diagnose_shapes(got, *case)
        if diagnosis is not None:
            n_q, n_k, d_k, d_v = case
            message, *hints = diagnosis
            return fail(f"for n_q={n_q}, n_k={n_k}, d_k={d_k}, d_v={d_v}: {message}", *hints)
    return Feedback(True, "correct: scores and weights are (n_q, n_k), one row per query; the output is (n_q, d_v), "
                          "one mix of the values per query")


# ---------------------------------------------------------------------------------------------------
# Exercise 3.3: Bahdanau's additive score.

def _additive_case(seed=0, batch=()):
    rng = np.random.default_rng(seed)
    n_q, n_k, d_q, d_k, d_a = 3, 5, 4, 6, 3  # d_q != d_k: the additive score compares vectors of different sizes
    return (rng.standard_normal(batch + (n_q, d_q)), rng.standard_normal(batch + (n_k, d_k)),
            rng.standard_normal((d_q, d_a)), rng.standard_normal((d_k, d_a)), rng.standard_normal(d_a))


def _additive(q, k, W_q, W_k, v, activation):
    """The score with another activation than tanh: the typical mistakes (the reference is additive_score)."""
    return activation((q @ W_q)[..., :, None, :] + (k @ W_k)[..., None, :, :]) @ v


@checker
def check_additive_score(fn):
    """Check `fn(q, k, W_q, W_k, v) -> scores`, the additive score v^T tanh(W_q q_i + W_k k_j) of every pair.

    q: (n_q, d_q)  k: (n_k, d_k)  W_q: (d_q, d_a)  W_k: (d_k, d_a)  v: (d_a,)  ->  scores: (n_q, n_k)
    (vectors are rows: q @ W_q is the paper's W_q q)
    """
    q, k, W_q, W_k, v = _additive_case()
    n_q, n_k, d_a = len(q), len(k), len(v)
    result, error = call(fn, q, k, W_q, W_k, v)
    if error is not None:
        if error.message.startswith("calling your function raised ValueError") and "broadcast" in error.message:
            return fail(f"q @ W_q is (n_q, d_a) = {(n_q, d_a)} and k @ W_k is (n_k, d_a) = {(n_k, d_a)}: they do not "
                        "add as they are. Look at how many hidden vectors there should be",
                        "one hidden vector per (query, key) PAIR: an (n_q, n_k, d_a) array, made by broadcasting",
                        "(q @ W_q)[:, None, :] + (k @ W_k)[None, :, :]")
        return error
    scores = np.asarray(result, dtype=np.float64)
    if scores.shape == (n_q, n_k, d_a):
        return fail(f"scores has shape {scores.shape}: those are the hidden vectors, one per pair. Look at the "
                    "last step of the formula", "a score is one number per pair: v^T times the hidden vector",
                    "hidden @ v")
    if scores.shape == (n_k, n_q):
        return fail(f"scores has shape {scores.shape}, expected (n_q, n_k) = {(n_q, n_k)}: one row per query, one "
                    "column per key. Look at which term gets the new axis", "the query axis comes first",
                    "(q @ W_q)[:, None, :] + (k @ W_k)[None, :, :]")
    if scores.shape != (n_q, n_k):
        return fail(f"scores has shape {scores.shape}, expected (n_q, n_k) = {(n_q, n_k)}: one score per "
                    "(query, key) pair", "print the shape after each step",
                    "np.tanh((q @ W_q)[:, None, :] + (k @ W_k)[None, :, :]) @ v")
    reference = additive_score(q, k, W_q, W_k, v)
    if np.allclose(scores, reference, atol=1e-8):
        pass
    elif np.allclose(scores, softmax(reference), atol=1e-8):
        return fail("your scores are non-negative and each row sums to 1: look at the last operation",
                    "those are the weights, the softmax of the scores; the softmax comes after",
                    "return the scores themselves, without softmax")
    elif np.allclose(scores, (np.tanh(q @ W_q) @ v)[:, None] + (np.tanh(k @ W_k) @ v)[None, :], atol=1e-8):
        return fail("every query gets the same weights: your score is a query term plus a key term. Look at "
                    "where the tanh is applied", "the query term is the same for every key, and softmax ignores it: "
                    "the query no longer matters", "apply tanh to the SUM, tanh(W_q q + W_k k)")
    elif np.allclose(scores, _additive(q, k, W_q, W_k, v, activation=lambda a: a), atol=1e-8):
        return fail("every query gets the same weights: your score is linear, a query term plus a key term. Look "
                    "at the nonlinearity", "softmax ignores the query term; a nonlinearity is what lets the query "
                    "and the key interact", "tanh is missing: np.tanh(hidden) @ v")
    elif np.allclose(scores, _additive(q, k, W_q, W_k, v, activation=lambda a: np.maximum(a, 0)), atol=1e-8):
        return fail("the scores are a ReLU of the hidden vectors: look at the activation",
                    "Bahdanau et al.'s score uses another one (appendix A.1.2 of the paper)", "np.tanh, not a ReLU")
    else:
        return fail("scores differ from v^T tanh(W_q q_i + W_k k_j) for each pair (i, j): look at which matrix "
                    "multiplies which", "q @ W_q for the queries, k @ W_k for the keys, and v last",
                    "np.tanh((q @ W_q)[:, None, :] + (k @ W_k)[None, :, :]) @ v")

    qb, kb, W_q, W_k, v = _additive_case(seed=1, batch=(2,))
    try:
        ok = np.allclose(np.asarray(fn(qb, kb, W_q, W_k, v), dtype=np.float64), additive_score(qb, kb, W_q, W_k, v))
    except Exception:
        ok = False
    if not ok:
        return Feedback(True, "correct on 2-D inputs. Going further: make it work on batches (..., n, d) too, with "
                              "[..., :, None, :] and [..., None, :, :] instead of [:, None, :] and [None, :, :]")
    return Feedback(True, "correct: one hidden vector tanh(W_q q_i + W_k k_j) per pair, projected onto v, and it "
                          "works on batches")


# ---------------------------------------------------------------------------------------------------
# Exercise 3.4 (predict): the same vector added to every key.

SHIFTED_KEYS_PREDICTION = "unchanged"  # the reference of exercise 3.4


@checker
def check_shifted_keys_prediction(prediction):
    """Check a prediction of what adding one vector c to every key does to the weights of a query:
    "unchanged", "sharper" or "flatter"."""
    from .predict import check_choice

    q, k, v = _case(11)
    c = 3.0 * np.random.default_rng(12).standard_normal(k.shape[-1])
    _, before = scaled_dot_product_attention(q, k, v)
    _, after = scaled_dot_product_attention(q, k + c, v)
    return check_choice(prediction, {
        "unchanged": "q · (k_i + c) = q · k_i + q · c, and q · c is the same for every key of that query: the "
                     "softmax of a row does not change when the whole row shifts",
        "sharper": "the scores do change, but every score of a query changes by the same amount, q · c; the "
                   "differences between them, which are all the softmax sees, stay the same",
        "flatter": "the shift q · c is the same for every key of a query, so the differences between the "
                   "scores, which set how flat the weights are, stay the same",
    }, "unchanged", f"with a random c of length {np.linalg.norm(c):.1f}, the weights before and after agree to "
                    f"12 decimal places: {np.allclose(before, after, rtol=0, atol=1e-12)}")


# ---------------------------------------------------------------------------------------------------
# Exercise 3.5 (derive): the bandwidth at which scaled dot-product attention is Gaussian kernel regression.

def equivalent_bandwidth(d_k):
    """The reference of exercise 3.5: for keys of equal length, softmax(q · k_i / sqrt(d_k)) equals the
    Gaussian kernel weights softmax(-|q - k_i|^2 / (2h^2)) when h^2 = sqrt(d_k), i.e. h = d_k^(1/4)."""
    return d_k ** 0.25


@checker
def check_equivalent_bandwidth(fn):
    """Check `fn(d_k) -> h`: the bandwidth h of a Gaussian kernel whose weights over keys of equal length
    are those of scaled dot-product attention, softmax(q · k_i / sqrt(d_k))."""
    answers = {}
    for d_k in (1, 4, 16, 64, 100):
        result, error = call(fn, d_k)
        if error is not None:
            return error
        try:
            answers[d_k] = float(result)
        except (TypeError, ValueError):
            return Feedback(False, f"expected one number (a bandwidth) for d_k = {d_k}, got {type(result).__name__}")
    got = np.array(list(answers.values()))
    d = np.array(list(answers))
    if np.allclose(got, d ** 0.25):
        rng = np.random.default_rng(3)
        q, k = rng.standard_normal((4, 16)), rng.standard_normal((6, 16))
        k = 2.0 * k / np.linalg.norm(k, axis=1, keepdims=True)  # keys of equal length
        squared = ((q[:, None, :] - k[None, :, :]) ** 2).sum(axis=-1)
        same = np.allclose(softmax(q @ k.T / 4.0), softmax(-squared / (2 * answers[16] ** 2)), atol=1e-12)
        return Feedback(True, f"correct: h = d_k^(1/4); at d_k = 16, h = {answers[16]:g}, and the two kinds of "
                              f"weights agree on keys of equal length: {same}")
    if np.allclose(got, np.sqrt(d)):
        return Feedback(False, "at d_k = 16 you give h = 4: that is the value of h^2, not of h",
                        hints=("the Gaussian score divides by 2h^2; match the term 2 q · k_i / (2h^2) with "
                               "q · k_i / sqrt(d_k)",
                               "h^2 = sqrt(d_k), so h = d_k ** 0.25"))
    if np.allclose(got, (d / 4) ** 0.25):
        return Feedback(False, "the factor 2 went the wrong way: expanding |q - k_i|^2 gives -2 q · k_i, and that "
                               "2 cancels the 2 of 2h^2",
                        hints=("-|q - k_i|^2 / (2h^2) = -|q|^2 / (2h^2) + q · k_i / h^2 - |k_i|^2 / (2h^2)",
                               "q · k_i / h^2 = q · k_i / sqrt(d_k): h = d_k ** 0.25"))
    if np.allclose(got, d ** -0.25) or np.allclose(got, d ** -0.5):
        return Feedback(False, "the bandwidth shrinks as d_k grows; it must grow, since dividing by sqrt(d_k) "
                               "makes the weights flatter, as a wider kernel does",
                        hints=("the kernel's score is divided by 2h^2, the attention score by sqrt(d_k)",
                               "h^2 = sqrt(d_k), so h = d_k ** 0.25"))
    return Feedback(False, f"expected the bandwidth for d_k = 16 to make the two kinds of weights agree; got "
                           f"h = {answers[16]:g}",
                    hints=("expand |q - k_i|^2 = |q|^2 - 2 q · k_i + |k_i|^2; for keys of equal length only the "
                           "middle term differs from key to key",
                           "h^2 = sqrt(d_k), so h = d_k ** 0.25"))


# ---------------------------------------------------------------------------------------------------
# Exercise 3.6 (hard): causal attention computed one block of queries at a time.

def causal_attention_in_blocks(q, k, v, block):
    """The reference of exercise 3.6: what the blocks must add up to, causal attention over all of q.
    q: (n, d_k)  k: (n, d_k)  v: (n, d_v)  block: queries per block  ->  output (n, d_v)"""
    return scaled_dot_product_attention(q, k, v, causal=True)[0]


def _blocks_variants(q, k, v, block):
    """(output of a typical wrong tiling, message, hints), checked in this order."""
    n, d_k = q.shape
    local, unscaled = np.zeros((n, v.shape[1])), np.zeros((n, v.shape[1]))
    for start in range(0, n, block):
        rows = slice(start, min(start + block, n))
        s = q[rows] @ k.T / np.sqrt(d_k)                                        # (rows, n)
        local[rows] = softmax(s, mask=np.tril(np.ones(s.shape, dtype=bool))) @ v  # as if start = 0
        allowed = np.arange(n)[None, :] <= np.arange(start, rows.stop)[:, None]
        unscaled[rows] = softmax(q[rows] @ k.T, mask=allowed) @ v
    return [
        (local, "only the first block is right: in the other blocks each query sees the keys as if the block "
                "started at position 0",
         ("query i of the block that starts at row `start` is position start + i of the sequence",
          "build the block's mask from global positions: np.arange(n)[None, :] <= np.arange(start, stop)[:, None]")),
        (unscaled, "every row is causal, but the weights are too sharp",
         ("compare one block's scores with those of scaled dot-product attention",
          "divide the scores by np.sqrt(d_k)")),
    ]


@checker
def check_causal_attention_in_blocks(fn):
    """Check `fn(q, k, v, block) -> output (n, d_v)`: causal attention computed block by block (a block of
    `block` queries at a time, each against the keys it may see), the same as over all queries at once,
    for any block size, the last block possibly shorter."""
    rng = np.random.default_rng(21)
    n, d_k, d_v = 11, 4, 3
    q, k, v = rng.standard_normal((n, d_k)), rng.standard_normal((n, d_k)), rng.standard_normal((n, d_v))
    expected = causal_attention_in_blocks(q, k, v, 4)
    for block in (4, 1, 3, 16):
        result, error = call(fn, q, k, v, block)
        if error is not None:
            return error
        try:
            out = np.asarray(result, dtype=np.float64)
        except (TypeError, ValueError):
            return Feedback(False, f"expected the output array (n, d_v), got {type(result).__name__}")
        if out.shape != (n, d_v):
            return Feedback(False, f"with n = {n} queries and block = {block}, the output has shape {out.shape}, "
                                   f"expected (n, d_v) = {(n, d_v)}")
        if np.allclose(out, expected, atol=1e-9):
            continue
        where = f"with n = {n} and block = {block}"
        tail = n - n % block if n % block else None
        if tail is not None and np.allclose(out[:tail], expected[:tail], atol=1e-9) and np.allclose(out[tail:], 0):
            return Feedback(False, f"{where}, the last {n % block} rows are zero: the last, shorter block is "
                                   "never computed",
                            hints=(f"{n} queries in blocks of {block} make {-(-n // block)} blocks",
                                   "loop over range(0, n, block) and slice q[start:start + block]"))
        allowed_strict = np.tril(np.ones((n, n), dtype=bool), -1)
        if np.allclose(out[1:], scaled_dot_product_attention(q, k, v, mask=allowed_strict)[0][1:], atol=1e-9):
            return Feedback(False, f"{where}, no query attends to its own position: the mask is one off the "
                                   "diagonal",
                            hints=("causal means j <= i: a position may see itself",
                                   "allow key j for query i when j <= i, not j < i"))
        if np.allclose(out, scaled_dot_product_attention(q, k, v)[0], atol=1e-9):
            return Feedback(False, f"{where}, the queries see every key, later positions included: the mask is "
                                   "missing", hints=("which keys may query i see in causal attention?",
                                                     "give key j of query i no weight when j > i"))
        for variant, message, hints in _blocks_variants(q, k, v, block):
            if np.allclose(out, variant, atol=1e-9):
                return Feedback(False, f"{where}, {message}", hints=hints)
        wrong = np.flatnonzero(~np.isclose(out, expected, atol=1e-9).all(axis=1))
        return Feedback(False, f"{where}, rows {wrong.tolist()} differ from causal attention over all queries at "
                               "once", hints=("check the scores, the mask and the softmax of one of those rows",))
    return Feedback(True, "correct: block by block, each query attends to the keys at or before its own position, "
                          "for blocks of 1, 3, 4 and more than n queries")


def _attention_mistake(weights, output="weights @ v"):
    """A wrong attention(q, k, v) that computes its weights as `weights` (an expression of q, k)."""
    return (f"from attn_course import softmax\n\ndef attention(q, k, v):\n    weights = {weights}\n"
            f"    return {output}, weights\n")


def _shapes_mistake(scores="(n_q, n_k)", weights="(n_q, n_k)", output="(n_q, d_v)"):
    return (f"def attention_shapes(n_q, n_k, d_k, d_v):\n"
            f"    return {{'scores': {scores}, 'weights': {weights}, 'output': {output}}}\n")


def _additive_mistake(body):
    return f"from attn_course import softmax\n\ndef additive_score(q, k, W_q, W_k, w_v):\n    return {body}\n"


SCALED = "q @ k.T / np.sqrt(q.shape[-1])"
PAIRS = "(q @ W_q)[:, None, :] + (k @ W_k)[None, :, :]"

EXERCISES = [
    Exercise(checker=check_attention_shapes, reference="attn_course.exercises.attention.attention_shapes",
             chapter="03_algorithm", solution="attention_shapes", level="debug", mistakes=(
                 Mistake(_shapes_mistake(scores="(n_k, n_q)"), "one row per KEY"),
                 Mistake(_shapes_mistake(weights="(n_k, n_q)"), "weights is (7, 5), one row per KEY"),
                 Mistake(_shapes_mistake(scores="(n_q, n_k, d_k)"), "what happens to d_k in a dot product"),
                 Mistake(_shapes_mistake(weights="(n_k,)"), "weights is (7,), one vector"),
                 Mistake(_shapes_mistake(output="(n_q, d_k)"), "its last dimension is d_k = 16"),
                 Mistake(_shapes_mistake(output="(n_k, d_v)"), "output is (n_k, d_v) = (7, 8)"),
                 Mistake(_shapes_mistake(output="(n_q, n_k, d_v)"), "it still has the key axis"),
                 Mistake(_shapes_mistake(output="(d_v,)"), "the output of ONE query"),
                 Mistake(_shapes_mistake(output="'n_q by d_v'"), "expected a shape"),
                 Mistake(_shapes_mistake("(5, 7)", "(5, 7)", "(5, 8)"), "for n_q=2, n_k=9, d_k=3, d_v=6: scores is (5, 7)"),
                 Mistake("def attention_shapes(n_q, n_k, d_k, d_v):\n    return [(n_q, n_k), (n_q, n_k), (n_q, d_v)]\n",
                         "expected a dict"),
                 Mistake("def attention_shapes(n_q, n_k, d_k, d_v):\n    return {'scores': (n_q, n_k), "
                         "'weights': (n_q, n_k)}\n", "no entry for 'output'"),
             )),
    Exercise(checker=check_attention, reference="attn_course.attention.scaled_dot_product_attention",
             chapter="03_algorithm", solution="attention", level="implement", mistakes=(
                 Mistake(_attention_mistake("softmax(q @ k.T)"), "too peaked"),                      # missing sqrt(d_k)
                 Mistake(_attention_mistake("softmax(q @ k.T / q.shape[-1])"), "divided by d_k"),
                 Mistake(_attention_mistake(f"np.exp({SCALED}) / np.exp({SCALED}).sum(axis=-1, keepdims=True)"),
                         "overflow"),
                 Mistake(_attention_mistake(f"softmax({SCALED}, axis=0)"), "but the columns do"),
                 Mistake(_attention_mistake(f"softmax(softmax({SCALED}))"), "softmax is applied twice"),
                 Mistake(_attention_mistake("softmax(k @ q.T / np.sqrt(q.shape[-1]), axis=0)", output="weights.T @ v"),
                         "one row per KEY"),                                                        # shapes swapped
                 Mistake(_attention_mistake(f"softmax({SCALED})", output="weights @ k[:, :v.shape[1]]"),
                         "output mixes the keys"),
                 Mistake(_attention_mistake(f"np.exp({SCALED})"), "row sums are"),
                 Mistake(f"from attn_course import softmax\n\ndef attention(q, k, v):\n    return softmax({SCALED}) @ v\n",
                         "expected a pair (output, weights)"),
             )),
    Exercise(checker=check_additive_score, reference="attn_course.scores.additive_score",
             chapter="03_algorithm", solution="additive_score", level="debug", mistakes=(
                 Mistake(_additive_mistake("np.tanh(q @ W_q + k @ W_k) @ w_v"), "they do not add as they are"),
                 Mistake(_additive_mistake(f"np.tanh({PAIRS})"), "those are the hidden vectors"),
                 Mistake(_additive_mistake("(np.tanh(q @ W_q) @ w_v)[:, None] + (np.tanh(k @ W_k) @ w_v)[None, :]"),
                         "where the tanh is applied"),
                 Mistake(_additive_mistake(f"({PAIRS}) @ w_v"), "your score is linear"),
                 Mistake(_additive_mistake(f"np.maximum({PAIRS}, 0) @ w_v"), "ReLU"),
                 Mistake(_additive_mistake(f"softmax(np.tanh({PAIRS}) @ w_v)"), "each row sums to 1"),
                 Mistake(_additive_mistake(f"(np.tanh({PAIRS}) @ w_v).T"), "one row per query"),
                 Mistake(_additive_mistake(f"np.tanh({PAIRS}) @ w_v[::-1]"), "differ from v^T tanh"),
             )),
    Exercise(checker=check_shifted_keys_prediction,
             reference="attn_course.exercises.attention.SHIFTED_KEYS_PREDICTION",
             chapter="03_algorithm", solution="shifted_keys_prediction", level="predict",
             mistakes=(Mistake('shifted_keys_prediction = "sharper"', "every score of a query changes by the same"),
                       Mistake('shifted_keys_prediction = "flatter"', "the shift q · c is the same for every key"))),
    Exercise(checker=check_equivalent_bandwidth, reference="attn_course.exercises.attention.equivalent_bandwidth",
             chapter="03_algorithm", solution="equivalent_bandwidth", level="derive", points=2,
             mistakes=(Mistake("def equivalent_bandwidth(d_k):\n    return d_k ** 0.5", "the value of h^2, not of h"),
                       Mistake("def equivalent_bandwidth(d_k):\n    return (d_k / 4) ** 0.25",
                               "the factor 2 went the wrong way"),
                       Mistake("def equivalent_bandwidth(d_k):\n    return d_k ** -0.25",
                               "the bandwidth shrinks as d_k grows"))),
    Exercise(checker=check_causal_attention_in_blocks,
             reference="attn_course.exercises.attention.causal_attention_in_blocks",
             chapter="03_algorithm", solution="causal_attention_in_blocks", level="hard", points=3,
             mistakes=(Mistake("import numpy as np\nimport attn_course as ac\n"
                               "def causal_attention_in_blocks(q, k, v, block):\n"
                               "    out = np.zeros((len(q), v.shape[1]))\n"
                               "    for start in range(0, len(q), block):\n"
                               "        s = q[start:start + block] @ k.T / np.sqrt(q.shape[1])\n"
                               "        out[start:start + block] = ac.softmax(s, mask=np.tril(np.ones(s.shape, bool))) @ v\n"
                               "    return out",
                               "as if the block started at position 0"),
                       Mistake("import numpy as np\nimport attn_course as ac\n"
                               "def causal_attention_in_blocks(q, k, v, block):\n"
                               "    n, out = len(q), np.zeros((len(q), v.shape[1]))\n"
                               "    for b in range(n // block):\n"
                               "        rows = slice(b * block, (b + 1) * block)\n"
                               "        allowed = np.arange(n)[None, :] <= np.arange(n)[rows, None]\n"
                               "        out[rows] = ac.softmax(q[rows] @ k.T / np.sqrt(q.shape[1]), mask=allowed) @ v\n"
                               "    return out",
                               "the last, shorter block is never computed"),
                       Mistake("import numpy as np\nimport attn_course as ac\n"
                               "def causal_attention_in_blocks(q, k, v, block):\n"
                               "    n, out = len(q), np.zeros((len(q), v.shape[1]))\n"
                               "    for start in range(0, n, block):\n"
                               "        rows = slice(start, start + block)\n"
                               "        allowed = np.arange(n)[None, :] < np.arange(n)[rows, None]\n"
                               "        out[rows] = ac.softmax(q[rows] @ k.T / np.sqrt(q.shape[1]), mask=allowed) @ v\n"
                               "    return out",
                               "the mask is one off the diagonal"))),
]
