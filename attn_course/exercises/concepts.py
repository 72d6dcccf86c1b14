"""Checkers for the exercises on the core concepts (chapter 2): soft lookup, cross-attention, path lengths;
then the prediction that scaling the scores and the temperature together changes nothing
(check_scaled_temperature_prediction), the derivative of a lookup in the inverse temperature
(check_lookup_slope) and multi-head cross-attention from scratch (check_multi_head_cross_attention, whose
reference is the package's multi_head_attention)."""
import math

import numpy as np

from ..attention import scaled_dot_product_attention
from ..softmax import softmax
from .feedback import Feedback, as_pair, call, call_for_pair, checker, fail
from .registry import Exercise, Mistake


# ---------------------------------------------------------------------------------------------------
# Exercise 2.1: a soft dictionary lookup at a given temperature.

def _lookup_case(seed=0, n=5, d=6, d_v=2):
    rng = np.random.default_rng(seed)
    keys = rng.standard_normal((n, d))
    keys /= np.linalg.norm(keys, axis=1, keepdims=True)  # unit keys: scores q·k_i are cosines when |q| = 1
    query = keys[2] + 0.4 * rng.standard_normal(d)
    query /= np.linalg.norm(query)
    return query, keys, rng.standard_normal((n, d_v))


def soft_lookup(query, keys, values, temperature):
    """The reference: (output (d_v,), weights (n,)), weights = softmax(keys @ query / T)."""
    weights = softmax(keys @ query, temperature=temperature)
    return weights @ values, weights


@checker
def check_soft_lookup(fn):
    """Check `fn(query, keys, values, temperature) -> (output, weights)`, a soft dictionary lookup.

    query: (d,)  keys: (n, d)  values: (n, d_v)  temperature: T > 0
    weights = softmax(keys @ query / T): (n,)     output = weights @ values: (d_v,)
    """
    query, keys, values = _lookup_case()
    n, d_v = len(keys), values.shape[1]
    scores = keys @ query
    T = 0.5
    pair, error = call_for_pair(fn, query, keys, values, T)
    if error is not None:
        return error
    output, weights = pair
    if weights.shape != (n,):
        if weights.size == n:
            return fail(f"weights has shape {weights.shape}, expected (n,) = ({n},): one weight per key. Look at the "
                        "extra axis", "one query gives one row of weights", "squeeze the query axis, or compute "
                        "keys @ query")
        return fail(f"weights has shape {weights.shape}, expected (n,) = ({n},): one weight per key. Look at the "
                    "scores", "the score of key i is q·k_i", "scores = keys @ query")
    if output.shape != (d_v,):
        if output.shape == (query.shape[0],):
            return fail(f"output has shape {output.shape}, the size of a key; expected (d_v,) = ({d_v},). Look at "
                        "what the weights average", "a lookup returns a mix of the VALUES",
                        "output = weights @ values")
        return fail(f"output has shape {output.shape}, expected (d_v,) = ({d_v},): one value-sized vector. Look at "
                    "the weighted sum", "output = weights @ values")
    if not np.all(np.isfinite(weights)) or not np.all(np.isfinite(output)):
        return fail("weights or output contain NaN or inf at temperature 0.5, on ordinary scores: look at the "
                    "exponentials and the division", "weights = softmax(keys @ query / T)")
    if (weights < 0).any() or not np.isclose(weights.sum(), 1.0, atol=1e-6):
        return fail(f"the weights must be a distribution over the keys (non-negative, summing to 1); they sum to "
                    f"{weights.sum():.4f}: look at the normalisation", "exp(score) alone is not a distribution",
                    "divide the exponentials by their sum (that is softmax)")

    _, expected = soft_lookup(query, keys, values, T)
    if not np.allclose(weights, expected, atol=1e-6):
        if np.count_nonzero(weights > 1e-12) == 1:
            return fail("the weights are one-hot: that is the HARD lookup (the limit T -> 0). Look at how the scores "
                        "become weights", "at temperature T every key gets a share",
                        "weights = exp(q·k_i / T) / sum_j exp(q·k_j / T), softmax(keys @ query / T)")
        if np.allclose(weights, softmax(scores), atol=1e-6):
            return fail("the temperature is ignored: your weights do not change with T. Look at the scores",
                        "the temperature rescales the scores before the softmax",
                        "divide the scores by T: softmax(keys @ query / T)")
        if np.allclose(weights, softmax(scores * T), atol=1e-6):
            return fail("a low temperature flattens your weights, but it must sharpen them: look at how T enters",
                        "the scores are multiplied by T", "DIVIDE them by T: softmax(keys @ query / T)")
        if np.allclose(weights, softmax(scores / (T * np.sqrt(len(query)))), atol=1e-6):
            return fail("the weights are too flat: the scores are divided by T * sqrt(d). Look at the scale",
                        "here the temperature is the only scale", "weights = softmax(keys @ query / T)")
        return fail("weights differ from softmax(q·k_i / T): look at the scores", "the score of key i is q·k_i",
                    "softmax(keys @ query / T)")
    if not np.allclose(output, weights @ values, atol=1e-6):
        return fail("the weights are right but the output is not their weighted sum of the values: look at the "
                    "last line", "output = weights @ values")

    # The hard lookup as a limit: at a very low temperature a naive exp overflows.
    T_low = 1e-3  # scores / T reach ~1000: exp overflows float64 past ~709
    result, error = call(fn, query, keys, values, T_low)
    if error is not None:
        return fail(f"at temperature {T_low:g} {error.message[0].lower()}{error.message[1:]}: look at the "
                    "exponentials", "scores / T reach about 1000 there",
                    "subtract the largest score before exp (softmax is shift invariant)")
    output_low, weights_low = as_pair(result)
    if not (np.all(np.isfinite(weights_low)) and np.all(np.isfinite(output_low))):
        return fail(f"at temperature {T_low:g} the weights overflow to NaN/inf: look at the exponentials",
                    "exp(q·k / T) exceeds float64 past 709; softmax(s) = softmax(s - c)",
                    "subtract the largest score before exp: s - s.max()")
    best = int(np.argmax(scores))
    if not np.allclose(output_low, values[best], atol=1e-6):
        return fail(f"at temperature {T_low:g} the output should be the value of the best-matching key (key {best}), "
                    f"as in a hard lookup; got {np.round(output_low, 4).tolist()}: look at the softmax's stability",
                    "subtract the LARGEST score before exp")
    return Feedback(True, "correct: softmax(q·k_i / T) over the keys, the weighted sum of the values, and stable "
                          "enough to reach the hard lookup as T -> 0")


# ---------------------------------------------------------------------------------------------------
# Exercise 2.2: encoder-decoder (cross-) attention with the roles right.

def _cross_case(seed=1, n_src=6, n_tgt=4, d_model=8, d_k=4, d_v=3):
    rng = np.random.default_rng(seed)
    decoder = rng.standard_normal((n_tgt, d_model))
    encoder = rng.standard_normal((n_src, d_model))
    W_q, W_k = rng.standard_normal((2, d_model, d_k)) / np.sqrt(d_model)
    W_v = rng.standard_normal((d_model, d_v)) / np.sqrt(d_model)
    return decoder, encoder, W_q, W_k, W_v


def cross_attention(decoder_states, encoder_states, W_q, W_k, W_v):
    """The reference: the decoder asks (queries), the encoder answers (keys and values)."""
    return scaled_dot_product_attention(decoder_states @ W_q, encoder_states @ W_k, encoder_states @ W_v)


@checker
def check_cross_attention(fn):
    """Check `fn(decoder_states, encoder_states, W_q, W_k, W_v) -> (output, weights)`.

    decoder_states: (n_tgt, d_model)  encoder_states: (n_src, d_model)
    W_q, W_k: (d_model, d_k)  W_v: (d_model, d_v)
    queries from the decoder, keys and values from the encoder (Bahdanau et al. 2015; Vaswani et al. 2017,
    sec. 3.2.3): output (n_tgt, d_v), one context vector per target position; weights (n_tgt, n_src).
    """
    dec, enc, W_q, W_k, W_v = _cross_case()
    n_tgt, n_src, d_model = len(dec), len(enc), dec.shape[1]
    d_k, d_v = W_k.shape[1], W_v.shape[1]
    result, error = call(fn, dec, enc, W_q, W_k, W_v)
    if error is not None:
        if "ValueError" in error.message:  # NumPy's and attn_course's shape errors
            return fail(error.message + f" (decoder_states has {n_tgt} rows, encoder_states {n_src}): look at where "
                        "the keys and the values come from", "each key needs its value: the same positions give both",
                        "keys = encoder_states @ W_k, values = encoder_states @ W_v")
        return error
    pair = as_pair(result)
    if pair is None:
        return fail(f"expected a pair (output, weights), got {type(result).__name__}: look at what your function "
                    "returns", "return output, weights")
    output, weights = pair

    expected_w = f"expected (n_tgt, n_src) = ({n_tgt}, {n_src})"
    roles = "queries = decoder_states @ W_q, keys = encoder_states @ W_k, values = encoder_states @ W_v"
    if weights.shape == (n_src, n_tgt):
        return fail(f"weights has shape {weights.shape} = (n_src, n_tgt), {expected_w}: the roles are swapped. Look "
                    "at who asks and who answers", "the decoder asks (queries); the encoder answers (keys, values)",
                    roles)
    if weights.shape == (n_src, n_src):
        return fail(f"weights has shape {weights.shape} = (n_src, n_src), {expected_w}: this is self-attention of "
                    "the encoder. Look at where the queries come from", "the decoder asks the questions", roles)
    if weights.shape == (n_tgt, n_tgt):
        return fail(f"weights has shape {weights.shape} = (n_tgt, n_tgt), {expected_w}: the decoder attends to "
                    "itself. Look at where the keys come from", "the encoder answers", roles)
    if weights.shape != (n_tgt, n_src):
        return fail(f"weights has shape {weights.shape}, {expected_w}: one row per target position (query), one "
                    "column per source position (key). Look at the projections", roles)
    if output.shape != (n_tgt, d_v):
        if output.shape == (n_tgt, d_k):
            return fail(f"output has shape {output.shape}, d_k columns; expected (n_tgt, d_v) = ({n_tgt}, {d_v}). "
                        "Look at what the weights average", "the keys were averaged, not the values",
                        "values = encoder_states @ W_v")
        if output.shape == (n_tgt, d_model):
            return fail(f"output has shape {output.shape}, d_model columns; expected (n_tgt, d_v) = ({n_tgt}, {d_v}). "
                        "Look at the values", "the values were not projected", "values = encoder_states @ W_v")
        return fail(f"output has shape {output.shape}, expected (n_tgt, d_v) = ({n_tgt}, {d_v}), one context vector "
                    "per target position. Look at the values", "values = encoder_states @ W_v")
    if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(output))):
        return fail("weights or output contain NaN or inf on ordinary inputs: look at the softmax",
                    "use a stable softmax, e.g. attn_course's scaled_dot_product_attention")
    if not np.allclose(weights.sum(axis=1), 1.0, atol=1e-6) or (weights < 0).any():
        if np.allclose(weights.sum(axis=0), 1.0, atol=1e-6):
            return fail("each row of weights should sum to 1, but the columns do: look at the axis your softmax "
                        "normalises over", "every target position distributes its attention over the source "
                        "positions, the last axis", "softmax(scores, axis=-1)")
        return fail(f"each row of weights must be a distribution over the source positions; the row sums are "
                    f"{np.round(weights.sum(axis=1), 4).tolist()}: look at the normalisation",
                    "softmax(scores, axis=-1)")

    def weights_for(q, k, scale=1 / np.sqrt(d_k)):
        return softmax(q @ k.T * scale)

    q, k = dec @ W_q, enc @ W_k
    expected_output, expected = cross_attention(dec, enc, W_q, W_k, W_v)
    if not np.allclose(weights, expected, atol=1e-6):
        if np.allclose(weights, weights_for(q, k, 1.0), atol=1e-6):
            return fail("the weights are too peaked: the scores are not scaled. Look at the scale of q @ k.T",
                        "the variance of q·k grows with d_k",
                        f"divide q @ k.T by sqrt(d_k) = {np.sqrt(d_k):g}")
        if np.allclose(weights, weights_for(dec @ W_k, enc @ W_q), atol=1e-6):
            return fail("W_q and W_k are swapped: look at which projection makes the queries",
                        "queries = decoder_states @ W_q, keys = encoder_states @ W_k")
        if np.allclose(weights, weights_for(dec @ W_q, enc @ W_q), atol=1e-6) or \
                np.allclose(weights, weights_for(dec @ W_k, enc @ W_k), atol=1e-6):
            return fail("queries and keys use the same projection: look at the matrices you use",
                        "queries = decoder_states @ W_q, keys = encoder_states @ W_k")
        if np.allclose(weights, weights_for(dec, enc, 1 / np.sqrt(d_model)), atol=1e-6):
            return fail("the states are compared without their projections: look at what you pass as q and k",
                        "project first: q = decoder_states @ W_q and k = encoder_states @ W_k")
        return fail("weights differ from softmax(q @ k.T / sqrt(d_k)): look at the queries and the keys",
                    "softmax((decoder_states @ W_q) @ (encoder_states @ W_k).T / sqrt(d_k))")
    if not np.allclose(output, expected_output, atol=1e-6):
        return fail("the weights are right but the output is not their weighted sum of the values: look at the "
                    "values", "output = weights @ (encoder_states @ W_v)")
    return Feedback(True, f"correct: the {n_tgt} target positions ask, the {n_src} source positions answer; "
                          f"weights ({n_tgt}, {n_src}), one context vector of size d_v = {d_v} per target position")


# ---------------------------------------------------------------------------------------------------
# Exercise 2.3: how many layer (or cell) applications lie between input 0 and output n - 1?

KINDS = ("recurrent", "convolution", "self-attention")


def path_length(kind, n, k=3):
    """The reference answer: applications of a layer (or of the recurrent cell) on the path from input 0 to
    output n - 1, for n >= 2 positions. Convolutions are centred ("same" padding) with odd width k: each
    layer reaches (k - 1) / 2 positions further. Recurrent: the cell runs once per position."""
    if kind == "recurrent":
        return n
    if kind == "convolution":
        return math.ceil((n - 1) / ((k - 1) // 2))
    if kind == "self-attention":
        return 1
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


_CASES = [(2, 3), (5, 3), (8, 3), (9, 5), (12, 5), (64, 7), (100, 3), (1000, 9)]


@checker
def check_path_lengths(fn):
    """Check `fn(kind, n, k) -> int` against `path_length` for the three kinds on several (n, k)."""
    for kind in KINDS:
        got = {}
        for n, k in _CASES:
            answer, error = call(fn, kind, n, k)
            if error is not None:
                return fail(f"{kind}, n = {n}, k = {k}: {error.message}", *error.hints)
            got[n, k] = answer
        wrong = [(n, k) for (n, k), a in got.items() if not _equal(a, path_length(kind, n, k))]
        if not wrong:
            continue
        n, k = wrong[0]
        answer, right = got[n, k], path_length(kind, n, k)
        message, *hints = _diagnose(kind, got) or (
            f"for n = {n}, k = {k} the path has {right} applications, you said {answer}: look at your formula",
            "draw the path from input 0 to output n - 1 for a small n")
        return fail(f"{kind}: {message}", *hints)
    return Feedback(True, "correct: recurrent n (one cell per position, in order), convolution "
                          "ceil((n - 1) / ((k - 1) / 2)) (a stack of layers, each reaching (k - 1) / 2 further), "
                          "self-attention 1 (every position sees every other in one layer)")


def _equal(answer, right):
    try:
        return float(answer) == right
    except (TypeError, ValueError):
        return False


def _matches(got, formula):
    return all(_equal(a, formula(n, k)) for (n, k), a in got.items())


def _diagnose(kind, got):
    """(message, *hints) for a recognised wrong formula, the last hint the fix; or None."""
    conv = "L centred layers of width k reach L(k - 1) / 2 positions: math.ceil((n - 1) / ((k - 1) // 2))"
    if not all(isinstance(a, (int, float, np.integer, np.floating)) for a in got.values()):
        return ("return a number, the count of layer or cell applications: look at your return value",
                "return an int")
    if any(float(a) != int(a) for a in got.values()):
        return ("a count of layers is a whole number, and you gave fractions: look at how you divide",
                "a layer that covers part of the remaining distance still counts", "round UP: math.ceil")
    if kind == "recurrent":
        if _matches(got, lambda n, k: n - 1):
            return ("off by one: look at how many times the cell runs",
                    "n - 1 counts the hops between hidden states; h_0 is made from x_0 by the cell too",
                    "the cell is applied n times")
        if _matches(got, lambda n, k: 1):
            return ("a recurrent layer is one layer, but x_0 reaches h_{n-1} through the cell again and again: look "
                    "at how many times the cell runs", "once per position, one after the other",
                    "n applications")
        return ("look at how many times the cell runs between x_0 and h_{n-1}",
                "the recurrent cell runs once per position", "n applications")
    if kind == "convolution":
        r = lambda k: (k - 1) // 2
        if _matches(got, lambda n, k: n - 1) or _matches(got, lambda n, k: n):
            return ("the answer must depend on the width k: look at how far one layer reaches",
                    "a wider kernel reaches further per layer", conv)
        if _matches(got, lambda n, k: math.ceil((n - 1) / (k - 1))):
            return ("(k - 1) per layer is the reach of a CAUSAL convolution: look at the padding",
                    "a centred width-k convolution reaches (k - 1) / 2 positions to each side", conv)
        if _matches(got, lambda n, k: (n - 1) // r(k)):
            return ("too few layers for some n: look at how you round",
                    "a layer that covers only part of the remaining distance is still a layer", conv)
        if _matches(got, lambda n, k: math.ceil(n / k)) or _matches(got, lambda n, k: n // k):
            return ("O(n/k) in Table 1 of Vaswani et al. is an order of growth, not a count: look at the receptive "
                    "field", "L centred layers span L(k - 1) / 2 positions to each side, and must reach n - 1", conv)
        if _matches(got, lambda n, k: math.ceil(math.log(n, k))):
            return ("log_k(n) is for DILATED convolutions: look at the kernel",
                    "these kernels are contiguous, each layer reaches (k - 1) / 2 further", conv)
        return ("look at how far L stacked layers reach", "find the smallest L that reaches n - 1", conv)
    if _matches(got, lambda n, k: n) or _matches(got, lambda n, k: n - 1):
        return ("your count grows with n: look at which inputs one self-attention layer reads",
                "one self-attention layer already connects every pair of positions", "1 layer, whatever n")
    return ("look at which inputs one self-attention layer reads",
            "every output of one self-attention layer depends on every input", "1 layer")


# ---------------------------------------------------------------------------------------------------
# Exercise 2.4 (predict): scores and temperature scaled together.

SCALED_TEMPERATURE_PREDICTION = "same"  # the reference of exercise 2.4


@checker
def check_scaled_temperature_prediction(prediction):
    """Check a prediction of what happens to the weights of a soft lookup when every score is doubled and
    the temperature doubled too (T = 0.3 -> 0.6): "higher", "same" or "lower" on the best key."""
    from .predict import check_choice

    query, keys, values = _lookup_case()
    scores = keys @ query
    before = softmax(scores, temperature=0.3)
    after = softmax(2 * scores, temperature=0.6)
    return check_choice(prediction, {
        "higher": "doubling the scores alone would sharpen the weights, but the temperature divides them again: "
                  "the softmax sees only s / T",
        "same": "the softmax sees only s / T, and (2 s) / (2 T) = s / T: the weights do not change",
        "lower": "raising the temperature alone would flatten the weights, but the scores grew by the same "
                 "factor: the softmax sees only s / T",
    }, "same", f"on the checker's keys the best key's weight is {before.max():.3f} at T = 0.3 and "
               f"{after.max():.3f} with the scores doubled at T = 0.6")


# ---------------------------------------------------------------------------------------------------
# Exercise 2.5 (derive): how the answer of a soft lookup moves with the inverse temperature.

def lookup_slope(scores, values, beta):
    """The reference of exercise 2.5: d/d beta of softmax(beta * scores) @ values, which is
    sum_i w_i (s_i - s_bar) v_i with w = softmax(beta s) and s_bar = sum_i w_i s_i: the covariance of the
    scores and the values under the weights.   scores: (n,)  values: (n, d_v)  ->  (d_v,)"""
    scores, values = np.asarray(scores, dtype=np.float64), np.asarray(values, dtype=np.float64)
    w = softmax(beta * scores)
    return (w * (scores - w @ scores)) @ values


@checker
def check_lookup_slope(fn):
    """Check `fn(scores, values, beta) -> (d_v,)`: the derivative with respect to beta = 1/T of the soft
    lookup softmax(beta * scores) @ values, against finite differences, at beta = 0 and beta = 2."""
    query, keys, values = _lookup_case(seed=3)
    scores = 2 * keys @ query
    d_v = values.shape[1]

    def lookup(beta):
        return softmax(beta * scores) @ values

    got = {}
    for beta in (0.0, 2.0):
        result, error = call(fn, scores.copy(), values.copy(), beta)
        if error is not None:
            return error
        slope = np.asarray(result, dtype=np.float64)
        if slope.shape != (d_v,):
            return Feedback(False, f"the slope has shape {slope.shape}, expected (d_v,) = ({d_v},): the answer "
                                   "of the lookup is a value-sized vector, and so is its derivative")
        got[beta] = slope
    eps = 1e-6
    numeric = {beta: (lookup(beta + eps) - lookup(beta - eps)) / (2 * eps) for beta in got}
    if all(np.allclose(got[b], numeric[b], atol=1e-7) for b in got):
        return Feedback(True, "correct: d lookup / d beta = sum_i w_i (s_i - s_bar) v_i, the covariance of the "
                              "scores and the values under the weights; it equals finite differences at beta = 0 "
                              "and 2")
    if np.allclose(got[0.0], numeric[0.0], atol=1e-7):
        return Feedback(False, "right at beta = 0, wrong at beta = 2: the weights are uniform only at beta = 0",
                        hints=("at beta = 2 the average over the keys is weighted by w = softmax(beta s)",
                               "w = softmax(beta * scores); return (w * (scores - w @ scores)) @ values"))
    shifted, error = call(fn, scores + 5.0, values.copy(), 2.0)
    if error is None and not np.allclose(np.asarray(shifted, dtype=np.float64), got[2.0], atol=1e-7):
        return Feedback(False, "your slope changes when every score grows by the same number; the lookup does "
                               "not change, so neither can its derivative",
                        hints=("differentiate the denominator sum_j exp(beta s_j) too: it gives a term with the "
                               "weighted mean of the scores",
                               "subtract s_bar = w @ scores: (w * (scores - w @ scores)) @ values"))
    if all(np.allclose(got[b], -b ** 2 * numeric[b], atol=1e-7) for b in got) or \
            np.allclose(got[2.0], -numeric[2.0] / 4, atol=1e-7):
        return Feedback(False, "that is the derivative with respect to the temperature T; the exercise asks "
                               "for the derivative with respect to beta = 1/T",
                        hints=("d/dT = d/d beta * d beta / dT = -(1/T^2) d/d beta",
                               "drop the factor -beta^2: (w * (scores - w @ scores)) @ values"))
    return Feedback(False, "the slope differs from finite differences of softmax(beta * scores) @ values",
                    hints=("d w_i / d beta = w_i (s_i - s_bar), with s_bar = sum_j w_j s_j",
                           "(w * (scores - w @ scores)) @ values"))


# ---------------------------------------------------------------------------------------------------
# Exercise 2.6 (hard): multi-head cross-attention from scratch.

def _multi_head_cross(dec, enc, p, n_heads, split="right", scale="d_head", out=True):
    """Multi-head cross-attention, with switches for the typical mistakes. -> (output, weights)"""
    d = dec.shape[-1]
    d_head = d // n_heads

    def heads(x):  # (n, d) -> (h, n, d_head)
        if split == "no_transpose":
            return x.reshape(n_heads, len(x), d_head)
        return x.reshape(len(x), n_heads, d_head).transpose(1, 0, 2)

    q, k, v = heads(dec @ p.W_q + p.b_q), heads(enc @ p.W_k + p.b_k), heads(enc @ p.W_v + p.b_v)
    s = q @ k.transpose(0, 2, 1) / np.sqrt(d_head if scale == "d_head" else d)
    w = softmax(s)                                              # (h, n_tgt, n_src)
    merged = (w @ v).transpose(1, 0, 2).reshape(len(dec), d)    # (n_tgt, d)
    return (merged @ p.W_o + p.b_o if out else merged), w


@checker
def check_multi_head_cross_attention(fn):
    """Check `fn(decoder_states, encoder_states, params, n_heads) -> (output, weights)`: multi-head
    cross-attention, queries from the decoder, keys and values from the encoder, with the projections and
    biases of params (attn_course.MultiHeadParams, matrices (in, out): x @ W + b).
    output: (n_tgt, d_model)   weights: (n_heads, n_tgt, n_src)"""
    from ..multihead import init_params, multi_head_attention

    rng = np.random.default_rng(6)
    n_tgt, n_src, d_model, n_heads = 4, 6, 8, 2
    dec, enc = rng.standard_normal((n_tgt, d_model)), rng.standard_normal((n_src, d_model))
    p = init_params(d_model, rng)
    pair, error = call_for_pair(fn, dec, enc, p, n_heads)
    if error is not None:
        return error
    output, weights = pair
    if weights.shape == (n_heads, n_src, n_tgt):
        return Feedback(False, f"weights has shape {weights.shape} = (heads, n_src, n_tgt): the source asks and "
                               "the target answers",
                        hints=("which side writes the next word, and which side is searched?",
                               "queries from decoder_states, keys and values from encoder_states"))
    if weights.shape != (n_heads, n_tgt, n_src) or output.shape != (n_tgt, d_model):
        return Feedback(False, f"output {output.shape} and weights {weights.shape}; expected (n_tgt, d_model) = "
                               f"{(n_tgt, d_model)} and (heads, n_tgt, n_src) = {(n_heads, n_tgt, n_src)}")
    expected_out, expected_w = multi_head_attention(dec, enc, p, n_heads)
    if np.allclose(weights, expected_w, atol=1e-9) and np.allclose(output, expected_out, atol=1e-9):
        return Feedback(True, f"correct: {n_heads} heads, each over its own {d_model // n_heads} columns of the "
                              "projections, the decoder asking and the encoder answering, merged and projected by W_o")
    mistakes = [
        (dict(split="no_transpose"), "the heads do not own contiguous columns: each head must get the columns "
         "i d_head ... (i + 1) d_head - 1 of every position",
         ("reshape (n, d_model) to (n, h, d_head) first, then move the head axis to the front",
          "x.reshape(n, h, d_head).transpose(1, 0, 2)")),
        (dict(scale="d_model"), "the scores are divided by sqrt(d_model); each head's dot products have d_head "
         "terms", ("what is the length of one head's query?", "divide by np.sqrt(d_model // n_heads)")),
        (dict(out=False), "the weights are right but the output is not projected: the merged heads must go "
         "through W_o", ("what mixes the heads after they are concatenated?", "merged @ params.W_o + params.b_o")),
    ]
    for switches, message, hints in mistakes:
        variant_out, variant_w = _multi_head_cross(dec, enc, p, n_heads, **switches)
        if np.allclose(weights, variant_w, atol=1e-9) and np.allclose(output, variant_out, atol=1e-9):
            return Feedback(False, message, hints=hints)
    if np.allclose(weights, expected_w, atol=1e-9):
        return Feedback(False, "the weights are right, the output is not: check the merge of the heads and the "
                               "output projection")
    return Feedback(False, "the weights differ from multi-head cross-attention's: check the projections (with "
                           "their biases), the split into heads and the scale")


# The typical wrong answers of exercise 2.6, each one edit away from this (DEC, ENC: who asks, who answers).
_MH_CROSS = """import numpy as np
import attn_course as ac
def multi_head_cross_attention(decoder_states, encoder_states, p, n_heads):
    asking, answering = DEC, ENC
    d = asking.shape[-1]
    d_head = d // n_heads
    heads = lambda x: x.reshape(len(x), n_heads, d_head).transpose(1, 0, 2)
    q = heads(asking @ p.W_q + p.b_q)
    k, v = heads(answering @ p.W_k + p.b_k), heads(answering @ p.W_v + p.b_v)
    w = ac.softmax(q @ k.transpose(0, 2, 1) / np.sqrt(d_head))
    merged = (w @ v).transpose(1, 0, 2).reshape(len(asking), d)
    return merged @ p.W_o + p.b_o, w
"""


def _lookup_mistake(weights, output="weights @ values"):
    return ("from attn_course import softmax\n\ndef soft_lookup(query, keys, values, temperature):\n"
            f"    weights = {weights}\n    return {output}, weights\n")


def _cross_mistake(q, k, v):
    return ("from attn_course import scaled_dot_product_attention\n\n"
            "def cross_attention(decoder_states, encoder_states, W_q, W_k, W_v):\n"
            f"    return scaled_dot_product_attention({q}, {k}, {v})\n")


def _cross_weights_mistake(weights):
    return ("from attn_course import softmax\n\ndef cross_attention(decoder_states, encoder_states, W_q, W_k, W_v):\n"
            "    q, k, v = decoder_states @ W_q, encoder_states @ W_k, encoder_states @ W_v\n"
            f"    weights = {weights}\n    return weights @ v, weights\n")


def _paths_mistake(**wrong):
    """A path_length that is right but for the kinds in `wrong`, given as expressions of n and k."""
    lines = "".join(f"    if kind == {kind!r}:\n        return {formula}\n" for kind, formula in wrong.items())
    return ("import math\nfrom attn_course.exercises.concepts import path_length as right\n\n"
            f"def path_length(kind, n, k=3):\n{lines}    return right(kind, n, k)\n")


DEC, ENC = "decoder_states", "encoder_states"

EXERCISES = [
    Exercise(checker=check_soft_lookup, reference="attn_course.exercises.concepts.soft_lookup",
             chapter="02_concepts", solution="soft_lookup", level="debug", mistakes=(
                 Mistake(_lookup_mistake("np.exp(keys @ query / temperature) / np.exp(keys @ query / temperature).sum()"),
                         "overflow"),
                 Mistake(_lookup_mistake("softmax(keys @ query)"), "temperature is ignored"),
                 Mistake(_lookup_mistake("softmax(keys @ query * temperature)"), "flattens your weights"),
                 Mistake(_lookup_mistake("softmax(keys @ query / (temperature * np.sqrt(len(query))))"), "sqrt(d)"),
                 Mistake(_lookup_mistake("np.eye(len(keys))[np.argmax(keys @ query)]"), "HARD lookup"),
                 Mistake(_lookup_mistake("np.exp(keys @ query / temperature)"), "sum to"),
                 Mistake(_lookup_mistake("softmax(keys @ query, temperature=temperature)", "weights @ keys"),
                         "the size of a key"),
                 Mistake(_lookup_mistake("softmax(query[None, :] @ keys.T, temperature=temperature)",
                                         "(weights @ values)[0]"), "weights has shape (1, 5)"),
             )),
    Exercise(checker=check_cross_attention, reference="attn_course.exercises.concepts.cross_attention",
             chapter="02_concepts", solution="cross_attention", level="implement", mistakes=(
                 Mistake(_cross_mistake(f"{ENC} @ W_q", f"{DEC} @ W_k", f"{DEC} @ W_v"), "roles are swapped"),
                 Mistake(_cross_mistake(f"{ENC} @ W_q", f"{ENC} @ W_k", f"{ENC} @ W_v"), "self-attention of the encoder"),
                 Mistake(_cross_mistake(f"{DEC} @ W_q", f"{DEC} @ W_k", f"{DEC} @ W_v"), "decoder attends to itself"),
                 Mistake(_cross_mistake(f"{DEC} @ W_q", f"{ENC} @ W_k", f"{DEC} @ W_v"), "where the keys and the values"),
                 Mistake(_cross_mistake(f"{DEC} @ W_q", f"{ENC} @ W_k", f"{ENC} @ W_k"), "d_k columns"),
                 Mistake(_cross_mistake(f"{DEC} @ W_q", f"{ENC} @ W_k", ENC), "d_model columns"),
                 Mistake(_cross_weights_mistake("softmax(q @ k.T)"), "not scaled"),
                 Mistake(_cross_mistake(f"{DEC} @ W_k", f"{ENC} @ W_q", f"{ENC} @ W_v"), "W_q and W_k are swapped"),
                 Mistake(_cross_mistake(f"{DEC} @ W_q", f"{ENC} @ W_q", f"{ENC} @ W_v"), "same projection"),
                 Mistake(_cross_mistake(DEC, ENC, f"{ENC} @ W_v"), "without their projections"),
                 Mistake(_cross_weights_mistake("softmax(q @ k.T / np.sqrt(k.shape[1]), axis=0)"), "but the columns do"),
             )),
    Exercise(checker=check_path_lengths, reference="attn_course.exercises.concepts.path_length",
             chapter="02_concepts", solution="path_length", level="debug", mistakes=(
                 Mistake(_paths_mistake(recurrent="n - 1"), "recurrent: off by one"),
                 Mistake(_paths_mistake(recurrent="1"), "recurrent: a recurrent layer is one layer"),
                 Mistake(_paths_mistake(recurrent="2 * n"), "recurrent: look at how many times"),
                 Mistake(_paths_mistake(convolution="n - 1"), "convolution: the answer must depend on the width k"),
                 Mistake(_paths_mistake(convolution="math.ceil((n - 1) / (k - 1))"), "convolution: (k - 1) per layer"),
                 Mistake(_paths_mistake(convolution="(n - 1) // ((k - 1) // 2)"), "convolution: too few layers"),
                 Mistake(_paths_mistake(convolution="math.ceil(n / k)"), "convolution: O(n/k)"),
                 Mistake(_paths_mistake(convolution="math.ceil(math.log(n, k))"), "convolution: log_k(n)"),
                 Mistake(_paths_mistake(convolution="(n - 1) / ((k - 1) / 2) + 0.5"), "convolution: a count of layers"),
                 Mistake(_paths_mistake(convolution="3 * n"), "convolution: look at how far L stacked layers reach"),
                 Mistake(_paths_mistake(**{"self-attention": "n"}), "self-attention: your count grows with n"),
                 Mistake(_paths_mistake(**{"self-attention": "math.ceil(math.log2(n))"}), "self-attention: look at"),
                 Mistake(_paths_mistake(recurrent="None"), "recurrent: return a number"),
             )),
    Exercise(checker=check_scaled_temperature_prediction,
             reference="attn_course.exercises.concepts.SCALED_TEMPERATURE_PREDICTION",
             chapter="02_concepts", solution="scaled_temperature_prediction", level="predict",
             mistakes=(Mistake('scaled_temperature_prediction = "higher"', "doubling the scores alone"),
                       Mistake('scaled_temperature_prediction = "lower"', "raising the temperature alone"))),
    Exercise(checker=check_lookup_slope, reference="attn_course.exercises.concepts.lookup_slope",
             chapter="02_concepts", solution="lookup_slope", level="derive", points=2,
             mistakes=(Mistake("import numpy as np\ndef lookup_slope(scores, values, beta):\n"
                               "    w = np.exp(beta * scores) / np.exp(beta * scores).sum()\n"
                               "    return (w * scores) @ values", "your slope changes when every score grows"),
                       Mistake("def lookup_slope(scores, values, beta):\n"
                               "    return (scores - scores.mean()) @ values / len(scores)",
                               "right at beta = 0, wrong at beta = 2"),
                       Mistake("import numpy as np\ndef lookup_slope(scores, values, beta):\n"
                               "    w = np.exp(beta * scores) / np.exp(beta * scores).sum()\n"
                               "    return -beta ** 2 * (w * (scores - w @ scores)) @ values",
                               "the derivative with respect to the temperature"))),
    Exercise(checker=check_multi_head_cross_attention, reference="attn_course.multihead.multi_head_attention",
             chapter="02_concepts", solution="multi_head_cross_attention", level="hard", points=3,
             mistakes=(Mistake(_MH_CROSS.replace("DEC, ENC", "encoder_states, decoder_states"),
                               "the source asks and the target answers"),
                       Mistake(_MH_CROSS.replace("DEC, ENC", "decoder_states, encoder_states")
                               .replace("x.reshape(len(x), n_heads, d_head).transpose(1, 0, 2)",
                                        "x.reshape(n_heads, len(x), d_head)"),
                               "the heads do not own contiguous columns"),
                       Mistake(_MH_CROSS.replace("DEC, ENC", "decoder_states, encoder_states")
                               .replace("np.sqrt(d_head)", "np.sqrt(d)"),
                               "divided by sqrt(d_model)"),
                       Mistake(_MH_CROSS.replace("DEC, ENC", "decoder_states, encoder_states")
                               .replace("merged @ p.W_o + p.b_o", "merged"),
                               "the output is not projected"))),
]
