"""Checkers for the exercises of chapter 6 (applications): reading attention against the truth.

    check_alignment_accuracy(fn)   fn(weights, truth) -> share of queries whose top key is truly aligned
    check_attention_pooling(fn)    fn(h, u, mask) -> (pooled, weights), attention with one learned query
    check_rollout(fn)              fn(weights) -> attention rollout through the layers (Abnar & Zuidema)
    check_pooling_prediction(w)    predict: the weight a padding mask leaves to word 0
    check_uniform_rollout(fn)      derive: fn(n, layers) -> the diagonal of the rollout of uniform attention
    check_class_maps(fn)           hard: fn(weights) -> the [class] maps, raw and rolled out, of a batch

The references are the package's attn_course.readout.alignment_accuracy and attention_rollout (NumPy
functions in a module that imports torch: imported when a checker runs) and attention_pool.
"""
import numpy as np

from ..softmax import softmax
from .feedback import Feedback, call, call_for_pair, checker, fail, not_written
from .registry import Exercise, Mistake


# ---------------------------------------------------------------------------------------------------

def _alignment_case():
    """A translation-like case: 4 queries over 5 keys, query 2 with two true keys (like the month word)."""
    truth = np.zeros((4, 5), dtype=bool)
    truth[0, 3] = truth[1, 4] = truth[2, 1] = truth[2, 2] = truth[3, 0] = True
    weights = np.array([[0.05, 0.05, 0.25, 0.45, 0.20],    # right: key 3, though with less than half the weight
                        [0.10, 0.10, 0.10, 0.60, 0.10],    # wrong: key 3, the truth is key 4
                        [0.05, 0.15, 0.70, 0.05, 0.05],    # right: key 2, the second of its two true keys
                        [0.40, 0.10, 0.10, 0.30, 0.10]])   # right: key 0
    return weights, truth


@checker
def check_alignment_accuracy(fn):
    """Check `fn(weights, truth) -> float`: the share of queries (rows) whose largest weight falls on a
    key that is truly aligned with them. weights: (..., n_q, n_k); truth: bool, the same shape."""
    from ..readout import alignment_accuracy

    weights, truth = _alignment_case()
    expected = alignment_accuracy(weights, truth)  # 0.75: 3 of the 4 queries
    result, error = call(fn, weights, truth)
    if error is not None:
        return error
    if np.ndim(result) != 0:
        return fail(f"expected one number (a share of the queries), got an array of shape {np.shape(result)}: look "
                    "at the last step", "average the right/wrong verdicts of the queries", "... .mean()")
    result = float(result)
    by_column = np.take_along_axis(truth, weights.argmax(axis=0)[None, :], axis=0).mean()
    first_key_only = (weights.argmax(axis=-1) == truth.argmax(axis=-1)).mean()
    if np.isclose(result, expected):
        pass
    elif np.isclose(result, expected * len(truth)):
        return fail(f"you returned how many queries are right ({result:g}): look at the last step",
                    "the exercise asks for a share", "divide by the number of queries: .mean()")
    elif np.isclose(result, first_key_only):
        return fail("a query with several true keys is counted wrong when it picks the second one: look at how you "
                    "compare with the truth", "here query 2 comes from keys 1 and 2, as the month word comes from two "
                    "digits; truth.argmax gives only the first", "count it right when its top key is ANY true key: "
                    "np.take_along_axis(truth, weights.argmax(axis=-1)[..., None], axis=-1)")
    elif np.isclose(result, (weights * truth).sum() / truth.sum()) or np.isclose(result, (weights * truth).sum() / len(truth)):
        return fail("that is the average weight on the true keys: look at what the exercise counts",
                    "it asks which key each query picks", "take the argmax of each row, then check it against the truth")
    elif np.isclose(result, by_column):
        return fail("you took the argmax down each column, over the queries: look at the axis of your argmax",
                    "each query is a row and picks one key", "argmax over the LAST axis, axis=-1")
    elif np.isclose(result, ((weights * truth).sum(axis=-1) > 0.5).mean()):
        return fail("that is the share of queries with more than half their weight on true keys: look at what the "
                    "exercise counts", "query 0 picks its true key with weight 0.45, less than half",
                    "check whether each query's TOP key (argmax of its row) is a true key")
    elif np.isclose(result, expected * len(truth) / truth.size):
        return fail(f"you divided the count of right queries by the number of entries ({truth.size} = queries x keys): "
                    "look at the denominator", f"divide by the number of queries ({len(truth)})")
    else:
        return fail(f"expected {expected} on a case where 3 of 4 queries pick a true key, got {result}: look at each "
                    "step", "argmax of each row, look it up in the truth, average",
                    "np.take_along_axis(truth, weights.argmax(axis=-1)[..., None], axis=-1).mean()")

    batch = np.stack([weights, weights[:, ::-1]]), np.stack([truth, truth])
    result_b, error = call(fn, *batch)
    reference = alignment_accuracy(*batch)
    if error is not None or np.ndim(result_b) != 0 or not np.isclose(float(result_b), reference):
        return Feedback(True, "correct on one sentence. Going further: make it work on a batch of shape "
                              "(batch, n_q, n_k) too (argmax over axis=-1 and np.take_along_axis do)")
    return Feedback(True, "correct: each query's top key checked against all its true keys, averaged over queries, "
                          "and it works on batches")


# ---------------------------------------------------------------------------------------------------

def _softmax(x, mask):
    return softmax(x, mask=np.asarray(mask, dtype=bool))  # the package's: stable, masked entries exactly 0


def _pooling_case(seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((3, 5, 4))               # 3 sentences, 5 positions, d = 4
    u = scale * rng.standard_normal(4)
    mask = np.array([[True] * 5, [True] * 3 + [False] * 2, [True] * 2 + [False] * 3])  # padding at the end
    h[~mask] = 9.0 * np.abs(rng.standard_normal((int((~mask).sum()), 4)))  # padding vectors that score high
    return h, u, mask


def attention_pool(h, u, mask):
    """The reference: (pooled (batch, d), weights (batch, n)), a masked softmax of the scores h @ u."""
    weights = _softmax(h @ u, mask)
    return np.einsum("bn,bnd->bd", weights, h), weights


@checker
def check_attention_pooling(fn):
    """Check `fn(h, u, mask) -> (pooled, weights)`: attention pooling with one learned query u.

    h: (batch, n, d) word vectors;  u: (d,) the query;  mask: (batch, n) bool, True for real words.
    weights = softmax over the real words of the scores h @ u (padding gets exactly 0);
    pooled = sum_j weights_j h_j: (batch, d).
    """
    h, u, mask = _pooling_case()
    pair, error = call_for_pair(fn, h, u, mask, what="(pooled, weights)")
    if error is not None:
        return error
    pooled, weights = pair
    b, n, d = h.shape
    fix = "weights = softmax(np.where(mask, h @ u, -np.inf), axis=-1), stable"
    if weights.shape == (b, d) and pooled.shape == (b, n) and n != d:
        return fail("the pair is in the wrong order: look at your return line", "return (pooled, weights), pooled "
                    "(batch, d) first")
    if weights.shape != (b, n):
        return fail(f"weights has shape {weights.shape}, expected (batch, n) = {(b, n)}: one weight per word. Look at "
                    "the scores", "h is (batch, n, d) and u is (d,)", "scores = h @ u")
    if pooled.shape != (b, d):
        return fail(f"pooled has shape {pooled.shape}, expected (batch, d) = {(b, d)}: one vector per sentence. Look at "
                    "the weighted sum", "sum over the words, keep the batch",
                    "np.einsum('bn,bnd->bd', weights, h)")
    if not np.all(np.isfinite(weights)):
        return fail("weights contain NaN or inf: look at the exponentials and the division", fix)
    scores = h @ u
    if np.allclose(weights.sum(axis=0), 1.0) and not np.allclose(weights.sum(axis=-1), 1.0):
        return fail("each sentence's weights should sum to 1, but the columns do: look at the axis your softmax "
                    "normalises over", "it ran over the batch; each sentence's weights sum over its words",
                    "softmax(..., axis=-1)")
    if (weights[~mask] != 0).any():
        if np.allclose(weights, _softmax(scores, np.ones_like(mask))):
            return fail("the padding gets weight: the mask is ignored. Look at where the mask enters",
                        "a padded position must get exactly 0 after the softmax, and exp(-inf) = 0", fix)
        if np.allclose(weights, _softmax(scores * mask, np.ones_like(mask))):
            return fail("the padding still gets weight: the padded scores were multiplied by the mask, which sets "
                        "them to 0, not -inf. Look at the value you fill in", "exp(0) = 1", fix)
        return fail(f"padded positions must get weight exactly 0, got up to {np.abs(weights[~mask]).max():.3g}: look "
                    "at the value you fill in", fix)
    if not np.allclose(weights.sum(axis=-1), 1.0):
        full = _softmax(scores, np.ones_like(mask))
        if np.allclose(weights, np.where(mask, full, 0.0)):
            return fail(f"a padded sentence's weights sum to {np.round(weights.sum(-1), 3).tolist()}, not 1: the "
                        "padding's weights were zeroed after the softmax. Look at where you mask",
                        "the softmax must normalise over the real words only", "mask the scores BEFORE the softmax: "
                        + fix)
        return fail(f"each sentence's weights must sum to 1, got sums {np.round(weights.sum(-1), 3).tolist()}: look "
                    "at the normalisation", fix)
    expected_pooled, expected = attention_pool(h, u, mask)
    if not np.allclose(weights, expected, atol=1e-6):
        if np.allclose(weights, _softmax(scores / np.sqrt(d), mask), atol=1e-6):
            return fail(f"the weights are too flat: the scores are divided by sqrt(d) = {np.sqrt(d):g}. Look at the "
                        "score", "this exercise's score is the plain dot product, u is learned at its own scale",
                        "scores = h @ u, unscaled")
        return fail("weights differ from the softmax over the real words of the scores h @ u: look at the scores", fix)
    if not np.allclose(pooled, expected_pooled, atol=1e-6):
        if np.allclose(pooled, np.einsum("bn,bnd->bd", mask / mask.sum(-1, keepdims=True), h)):
            return fail("pooled is the plain average of the words: look at what multiplies the word vectors",
                        "the weights decide how much each word counts", "np.einsum('bn,bnd->bd', weights, h)")
        return fail("the weights are right but pooled is not their weighted sum of the word vectors: look at the "
                    "last line", "np.einsum('bn,bnd->bd', weights, h)")

    h_big, u_big, mask_big = _pooling_case(seed=1, scale=1000.0)  # scores up to about 1400: exp overflows
    with np.errstate(all="ignore"):
        result, error = call(fn, h_big, u_big, mask_big)
    if error is not None:
        return fail(f"with large scores your function raised {error.message.split(': ', 1)[-1]}: look at the "
                    "exponentials", "subtract each sentence's largest score before exp")
    pooled_big, weights_big = (np.asarray(r, dtype=np.float64) for r in result)
    if not (np.all(np.isfinite(weights_big)) and np.all(np.isfinite(pooled_big))):
        return fail("with large scores (above 709, where exp overflows float64) the weights overflow to NaN/inf: look "
                    "at the exponentials", "softmax does not change when you shift the scores",
                    "subtract each sentence's largest (real) score before exp")
    if not np.allclose(weights_big, attention_pool(h_big, u_big, mask_big)[1], atol=1e-6):
        return fail("with large scores the weights are wrong, though finite: look at the softmax's stability",
                    "subtract each sentence's largest REAL score, not a padded one")
    return Feedback(True, "correct: dot-product scores, padding masked before a stable softmax over each sentence, "
                          "and the weighted sum of the word vectors")


# ---------------------------------------------------------------------------------------------------

def _rollout(weights, residual=True, mean=True, order="later-left", normalise=True):
    """The typical variants of the rollout (the reference is attn_course.readout.attention_rollout).
    weights: (layers, heads, n, n)."""
    a = weights.mean(axis=-3) if mean else weights.max(axis=-3)
    if residual:
        a = a + np.eye(a.shape[-1])
        if normalise:
            a = a / a.sum(axis=-1, keepdims=True)
    result = a[0]
    for layer in a[1:]:
        result = layer @ result if order == "later-left" else result @ layer
    return result


def _rollout_elementwise(weights):
    a = 0.5 * (weights.mean(axis=-3) + np.eye(weights.shape[-1]))
    result = a[0]
    for layer in a[1:]:
        result = layer * result
    return result


def _rollout_case(seed=0, layers=3, heads=2, n=5):
    rng = np.random.default_rng(seed)
    w = np.exp(rng.standard_normal((layers, heads, n, n)) * 1.5)
    return w / w.sum(axis=-1, keepdims=True)


@checker
def check_rollout(fn):
    """Check `fn(weights) -> (n, n)`: attention rollout (Abnar & Zuidema, ACL 2020).

    weights: (layers, heads, n, n), each row a softmax. Per layer: average the heads and account for the
    residual connection, A = (mean_heads W + I) / 2; then rollout = A_L @ ... @ A_2 @ A_1.
    """
    from ..readout import attention_rollout

    weights = _rollout_case()
    n = weights.shape[-1]
    result, error = call(fn, weights)
    if error is not None:
        return error
    result = np.asarray(result, dtype=np.float64)
    if result.shape != (n, n):
        return fail(f"expected an (n, n) = {(n, n)} matrix (token to input token), got shape {result.shape}: look at "
                    "which axes you reduce", "weights is (layers, heads, n, n): the heads are averaged, the layers "
                    "chained", "A = (weights.mean(axis=1) + I) / 2, then rollout = A[-1] @ ... @ A[0]")
    if np.allclose(result, attention_rollout(weights)):
        return Feedback(True, "correct: heads averaged, the residual added, rows renormalised, and the layers "
                              "chained with the later layer on the left")
    rows = result.sum(axis=-1)
    fix = "A = (weights.mean(axis=1) + np.eye(n)) / 2, then rollout = A[-1] @ ... @ A[1] @ A[0]"
    if np.allclose(result, _rollout(weights, order="earlier-left")):
        return fail("the layers are multiplied in the wrong order: look at which side the next layer goes on",
                    "information flows from layer 1 up, so the later layer goes on the LEFT", fix)
    if np.allclose(result, _rollout(weights, residual=False)):
        return fail("the residual connection is missing: look at what each layer passes on besides attention",
                    "each layer also passes its input on unchanged, the identity", fix)
    if np.allclose(result, _rollout(weights, normalise=False)):
        return fail(f"the rows sum to {rows[0]:g}, not 1: look at the normalisation after adding the identity",
                    "after adding I each row sums to 2", "divide by 2: " + fix)
    if np.allclose(result, _rollout(weights, mean=False)):
        return fail("the heads are combined with max: look at how you combine the heads",
                    "Abnar & Zuidema average them", "mean over axis 1 (the heads): " + fix)
    if np.allclose(result, attention_rollout(weights[-1:])) or np.allclose(result, weights[-1].mean(axis=0)):
        return fail("only the last layer is used: look at your loop over the layers",
                    "the rollout chains every layer, first to last", fix)
    if np.allclose(result, attention_rollout(weights).T):
        return fail("you returned the transpose: look at what a row of the rollout is",
                    "row i must be token i's distribution over the input tokens (each row sums to 1)",
                    "no .T: " + fix)
    if np.allclose(result, _rollout_elementwise(weights)):
        return fail("the layers are multiplied element by element (*): look at how layers chain",
                    "token i reaches input j through every token k in between: a matrix product", "@, not *: " + fix)
    if np.allclose(result, np.mean([attention_rollout(weights[:, h:h + 1]) for h in range(weights.shape[1])], axis=0)):
        return fail("each head was rolled out on its own and the results averaged: look at WHEN you average the heads",
                    "a layer's output mixes all its heads", "average the heads within each layer FIRST: " + fix)
    if np.allclose(result, _rollout(weights * weights.shape[1], mean=True)):
        return fail(f"the heads are summed, not averaged: with {weights.shape[1]} heads the residual then counts for "
                    "too little. Look at how you combine the heads", "use the mean over the heads (axis 1) before "
                    "adding I: " + fix)
    if not np.allclose(rows, 1.0):
        return fail(f"each row of the rollout must sum to 1 (a distribution over input tokens), got row sums "
                    f"{np.round(rows, 3).tolist()}: look at the normalisation", fix)
    return fail("the result differs from the rollout A_L @ ... @ A_1 with A = (mean over heads + I) / 2: look at each "
                "step", "average the heads, add the identity, renormalise, chain with the later layer on the left",
                fix)


# ---------------------------------------------------------------------------------------------------
# Exercise 6.4 (predict): the weight a padding mask leaves

POOL_SCORES, POOL_MASK = np.array([2.0, 1.0, 0.0, 5.0]), np.array([True, True, True, False])  # word 3: padding
FIRST_WEIGHT = float(softmax(POOL_SCORES, mask=POOL_MASK)[0])  # the reference prediction, computed


@checker
def check_pooling_prediction(first_weight):
    """Check a prediction `first_weight`: the attention weight of word 0 when the scores are [2, 1, 0, 5] and
    position 3 (score 5) is padding, hidden by the mask."""
    if first_weight is Ellipsis:
        return not_written("your prediction `first_weight`", "the `...` after `first_weight =`")
    try:
        got = float(first_weight)
    except (TypeError, ValueError):
        return Feedback(False, f"write the prediction as a number, got {first_weight!r}")
    e = np.exp(POOL_SCORES)
    if np.isclose(got, FIRST_WEIGHT, atol=0.001):
        return Feedback(True, f"right: {FIRST_WEIGHT:.3f} = e² / (e² + e¹ + e⁰). The padding's score of 5, the "
                              "largest, gets weight 0: the mask sets it to -inf before the softmax")
    if np.isclose(got, e[0] / e.sum(), atol=0.005):
        return Feedback(False, f"{got:.3f} counts the padding's e⁵ in the denominator: what does the mask do to "
                               "position 3?",
                        hints=("a masked score becomes -inf, and exp(-inf) = 0",
                               f"e² / (e² + e¹ + e⁰) = {FIRST_WEIGHT:.3f}"))
    if np.isclose(got, e[0] / (e[:3].sum() + 1), atol=0.005):
        return Feedback(False, f"{got:.3f}: the padding still gets weight, as if its score were 0: what is "
                               "exp of a masked score?",
                        hints=("masking sets the score to -inf, not to 0: exp(0) = 1 still counts",
                               f"e² / (e² + e¹ + e⁰) = {FIRST_WEIGHT:.3f}"))
    if np.isclose(got, 2 / 3, atol=0.005) or np.isclose(got, 0.25, atol=0.005) or np.isclose(got, 1 / 3, atol=0.005):
        return Feedback(False, f"{got:.3f}: the weights are not proportional to the scores themselves. What does "
                               "the softmax do to a score?",
                        hints=("weight_j = exp(s_j) / sum_k exp(s_k) over the real words",
                               f"e² / (e² + e¹ + e⁰) = {FIRST_WEIGHT:.3f}"))
    return Feedback(False, f"{got:.3f} is not the weight: which words share the weight, and in what proportion?",
                    hints=("the softmax over the three real words, the padding left out",
                           f"e² / (e² + e¹ + e⁰) = {FIRST_WEIGHT:.3f}"))


# ---------------------------------------------------------------------------------------------------
# Exercise 6.5 (derive): rollout through uniform attention

def uniform_rollout_diagonal(n, layers):
    """The reference: the diagonal entry of the rollout of `layers` layers of uniform attention over n tokens.
    With U the uniform matrix (U @ U = U), A = (U + I) / 2 and A^L = U + (I - U) / 2^L, so the diagonal is
    1/n + (1 - 1/n) / 2^L."""
    return 1 / n + (1 - 1 / n) / 2 ** layers


def _uniform_rollout(n, layers):
    from ..readout import attention_rollout
    return attention_rollout(np.full((layers, 2, n, n), 1 / n))  # 2 heads, both uniform


@checker
def check_uniform_rollout(fn):
    """Check `fn(n, layers) -> float`: the diagonal entry R[i, i] of the attention rollout (heads averaged, the
    residual added, A = (mean + I) / 2, layers chained) of `layers` layers in which every head attends uniformly
    to all n tokens."""
    for n, layers in [(4, 2), (17, 1), (10, 5), (3, 12), (64, 3)]:
        answer, error = call(fn, n, layers)
        if error is not None:
            return error
        case = f"n = {n} tokens, {layers} layer(s)"
        try:
            got = float(answer)
        except (TypeError, ValueError):
            return Feedback(False, f"{case}: return a number, got {type(answer).__name__}")
        right = float(_uniform_rollout(n, layers)[0, 0])
        if np.isclose(got, right, rtol=1e-9):
            continue
        if np.isclose(got, 1 / n):
            return Feedback(False, f"{case}: you returned 1/n = {got:.4g}, the diagonal of uniform attention alone: "
                                   "what does the residual connection add?",
                            hints=("each layer's A = (U + I) / 2 keeps half of every token on itself",
                                   "with U @ U = U, A^L = U + (I - U) / 2^L: diagonal 1/n + (1 - 1/n) / 2^L"))
        if np.isclose(got, 1 / n + (1 - 1 / n) / 2):
            return Feedback(False, f"{case}: you returned the diagonal of ONE layer, {got:.4g}: what does chaining "
                                   f"{layers} layers do to the identity's share?",
                            hints=("expand A^L = ((U + I) / 2)^L using U @ U = U: every term with a U is U",
                                   "A^L = U + (I - U) / 2^L: diagonal 1/n + (1 - 1/n) / 2^L"))
        if np.isclose(got, 0.5 ** layers) or np.isclose(got, 0.5 ** layers + 1 / n):
            return Feedback(False, f"{case}: you returned {got:.4g}: check the coefficients: the rows of A^L must "
                                   "still sum to 1",
                            hints=("A^L = c U + (1 - c) I: find c from U @ U = U and (U + I) / 2",
                                   "A^L = U + (I - U) / 2^L: diagonal 1/n + (1 - 1/n) / 2^L"))
        return Feedback(False, f"{case}: expected {right:.6g}, got {got:.6g}",
                        hints=("use U @ U = U to expand ((U + I) / 2)^L", "the diagonal is 1/n + (1 - 1/n) / 2^L"))
    return Feedback(True, "correct: ((U + I) / 2)^L = U + (I - U) / 2^L, so the diagonal is 1/n + (1 - 1/n) / 2^L: "
                          "each layer halves what a token keeps of itself beyond the uniform share, and deep "
                          "rollouts of diffuse attention tend to the uniform matrix")


# ---------------------------------------------------------------------------------------------------
# Exercise 6.6 (hard): the [class] token's maps for a whole batch

def class_maps(weights):
    """The reference: (raw, rolled), each (batch, g, g): for weights (batch, layers, heads, n, n) of a ViT whose
    token 0 is [class] and tokens 1 .. g^2 the patches, the [class] row over the patches of the last layer's
    heads averaged (raw) and of the attention rollout (rolled), each rescaled to sum to 1, as readout.cls_maps
    does for one image."""
    from ..readout import attention_rollout
    w = np.asarray(weights, dtype=np.float64)
    raw, rolled = w[:, -1].mean(axis=1)[:, 0, 1:], attention_rollout(w)[:, 0, 1:]     # (batch, g^2) each
    g = int(round(np.sqrt(raw.shape[-1])))
    return tuple((m / m.sum(axis=-1, keepdims=True)).reshape(len(w), g, g) for m in (raw, rolled))


def _vit_like_weights(seed=66, batch=3, layers=3, heads=2, n=10):
    """Random attention weights shaped like a ViT's with 9 patches (3 x 3) and a [class] token; row-softmaxed."""
    rng = np.random.default_rng(seed)
    return softmax(rng.normal(0, 1.5, (batch, layers, heads, n, n)), axis=-1)


@checker
def check_class_maps(fn):
    """Check `fn(weights) -> (raw, rolled)`: for weights (batch, layers, heads, n, n) of a Vision Transformer
    (token 0 [class], tokens 1 .. n - 1 the patches of a square grid), the [class] token's maps over the patch
    grid, each (batch, g, g) and summing to 1 per image: the last layer's weights averaged over heads (raw), and
    the attention rollout through all the layers (rolled). No loop over the batch is needed."""
    w = _vit_like_weights()
    result, error = call_for_pair(fn, w.copy(), what="(raw, rolled)")
    if error is not None:
        return error
    raw, rolled = result
    right_raw, right_rolled = class_maps(w)
    for name, got, right in (("raw", raw, right_raw), ("rolled", rolled, right_rolled)):
        if got.shape != right.shape:
            return Feedback(False, f"{name} has shape {got.shape}, expected (batch, g, g) = {right.shape}: one g x g "
                                   "map per image, over the patches only",
                            hints=("drop the [class] token's own column (token 0): keep the 9 patches",
                                   "m[:, 0, 1:] (the [class] row over the patches), then .reshape(batch, 3, 3)"))
    sums = rolled.reshape(len(w), -1).sum(axis=-1)
    if not np.allclose(sums, 1) or not np.allclose(raw.reshape(len(w), -1).sum(axis=-1), 1):
        return Feedback(False, "the maps do not sum to 1 per image: the [class] row also gives weight to [class] "
                               "itself, which the map leaves out",
                        hints=("after dropping the [class] column, the patches' weights sum to less than 1",
                               "divide each map by its sum over the patches"))
    if not np.allclose(raw, right_raw, atol=1e-12):
        last_first = (lambda m: m / m.sum(axis=-1, keepdims=True))(w[:, 0].mean(axis=1)[:, 0, 1:]).reshape(raw.shape)
        if np.allclose(raw, last_first, atol=1e-12):
            return Feedback(False, "raw is the FIRST layer's [class] row: which layer feeds the classifier?",
                            hints=("the classifier reads [class] after the last layer", "weights[:, -1]"))
        column = (lambda m: m / m.sum(axis=-1, keepdims=True))(w[:, -1].mean(axis=1)[:, 1:, 0]).reshape(raw.shape)
        if np.allclose(raw, column, atol=1e-12):
            return Feedback(False, "raw is the [class] COLUMN: how much each patch reads from [class], not what "
                                   "[class] reads from the patches",
                            hints=("rows are queries: the [class] token's query is row 0", "m[:, 0, 1:]"))
        return Feedback(False, "raw differs: the last layer's [class] row over the patches, heads averaged",
                        hints=("weights[:, -1].mean(axis=1) is (batch, n, n)", "then [:, 0, 1:], rescale, reshape"))
    if not np.allclose(rolled, right_rolled, atol=1e-12):
        from ..readout import attention_rollout
        reversed_order = attention_rollout(w[:, ::-1])[:, 0, 1:]
        reversed_order = (reversed_order / reversed_order.sum(axis=-1, keepdims=True)).reshape(rolled.shape)
        if np.allclose(rolled, reversed_order, atol=1e-12):
            return Feedback(False, "rolled chains the layers in the wrong order: which layer's matrix acts last?",
                            hints=("the rollout is A_L @ ... @ A_2 @ A_1: the first layer on the right",
                                   "rollout = A[l] @ rollout for l = 1 .. L - 1, starting from A[0]"))
        a = w.mean(axis=2)
        no_residual = a[:, 0]
        for layer in range(1, a.shape[1]):
            no_residual = a[:, layer] @ no_residual
        no_residual = no_residual[:, 0, 1:] / no_residual[:, 0, 1:].sum(axis=-1, keepdims=True)
        if np.allclose(rolled, no_residual.reshape(rolled.shape), atol=1e-12):
            return Feedback(False, "rolled leaves out the residual connections: what else carries a token through a "
                                   "layer?",
                            hints=("each layer's output is its input plus the attention's", "A = (mean over heads + I) / 2"))
        return Feedback(False, f"rolled differs from the rollout's [class] row by up to "
                               f"{np.abs(rolled - right_rolled).max():.3g}",
                        hints=("the batched rollout: A = (mean over heads + I) / 2, chained with the later layer on "
                               "the left (batch dimensions broadcast through @)",
                               "models.attention_rollout(weights)[:, 0, 1:], rescaled and reshaped"))
    return Feedback(True, "correct: the [class] row over the patches, rescaled to sum to 1 and laid out on the grid, "
                          "for the last layer and for the rollout, for every image at once")


def _accuracy_mistake(body):
    return f"def alignment_accuracy(weights, truth):\n    return {body}\n"


def _pool_mistake(weights, pooled="np.einsum('bn,bnd->bd', weights, h)", order="pooled, weights"):
    return ("from attn_course import softmax\n\ndef attention_pool(h, u, mask):\n"
            f"    weights = {weights}\n    pooled = {pooled}\n    return {order}\n")


def _rollout_mistake(layers="0.5 * (weights.mean(axis=1) + np.eye(weights.shape[-1]))", step="layer @ result",
                     last="result"):
    """A rollout that makes the layers' matrices A as `layers` and chains them as `step`."""
    return (f"def rollout(weights):\n    A = {layers}\n    result = A[0]\n    for layer in A[1:]:\n"
            f"        result = {step}\n    return {last}\n")


PICKED = "np.take_along_axis(truth, weights.argmax(axis=-1)[..., None], axis=-1)"
MASKED = "softmax(h @ u, mask=mask)"

EXERCISES = [
    Exercise(checker=check_alignment_accuracy, reference="attn_course.readout.alignment_accuracy",
             chapter="06_applications", solution="alignment_accuracy", level="debug", mistakes=(
                 Mistake(_accuracy_mistake(f"{PICKED}.sum()"), "how many queries are right"),
                 Mistake(_accuracy_mistake("(weights.argmax(axis=-1) == truth.argmax(axis=-1)).mean()"),
                         "several true keys"),
                 Mistake(_accuracy_mistake("(weights * truth).sum() / truth.sum()"), "average weight on the true keys"),
                 Mistake(_accuracy_mistake("np.take_along_axis(truth, weights.argmax(axis=0)[None, :], axis=0).mean()"),
                         "argmax down each column"),
                 Mistake(_accuracy_mistake(PICKED), "expected one number"),
                 Mistake(_accuracy_mistake(f"{PICKED}.sum() / truth.size"), "number of entries"),
                 Mistake(_accuracy_mistake("((weights * truth).sum(axis=-1) > 0.5).mean()"), "more than half"),
             )),
    Exercise(checker=check_attention_pooling, reference="attn_course.exercises.applications.attention_pool",
             chapter="06_applications", solution="attention_pool", level="debug", mistakes=(
                 Mistake(_pool_mistake("softmax(h @ u, axis=-1)"), "the mask is ignored"),
                 Mistake(_pool_mistake("softmax(h @ u, axis=-1) * mask"), "zeroed after the softmax"),
                 Mistake(_pool_mistake("softmax(h @ u, axis=0, mask=mask)"), "but the columns do"),
                 Mistake(_pool_mistake(MASKED, pooled="(h * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)"),
                         "plain average"),
                 Mistake(_pool_mistake("np.exp(h @ u) * mask / (np.exp(h @ u) * mask).sum(axis=-1, keepdims=True)"),
                         "overflow"),
                 Mistake(_pool_mistake("softmax(h @ u / np.sqrt(h.shape[-1]), mask=mask)"),
                         "divided by sqrt(d)"),
                 Mistake(_pool_mistake("softmax((h @ u) * mask, axis=-1)"), "multiplied by the mask"),
                 Mistake(_pool_mistake(MASKED, order="weights, pooled"), "the pair is in the wrong order"),
                 Mistake(_pool_mistake(MASKED, order="weights"), "expected a pair (pooled, weights)"),
             )),
    Exercise(checker=check_rollout, reference="attn_course.readout.attention_rollout",
             chapter="06_applications", solution="rollout", level="implement", mistakes=(
                 Mistake(_rollout_mistake(step="result @ layer"), "wrong order"),
                 Mistake(_rollout_mistake(layers="weights.mean(axis=1)"), "residual connection is missing"),
                 Mistake(_rollout_mistake(layers="weights.mean(axis=1) + np.eye(weights.shape[-1])"), "the rows sum to"),
                 Mistake(_rollout_mistake(layers="weights.max(axis=1) + np.eye(weights.shape[-1]); "
                                                 "A = A / A.sum(-1, keepdims=True)"), "combined with max"),
                 Mistake("def rollout(weights):\n    return weights[-1].mean(axis=0)\n", "only the last layer"),
                 Mistake(_rollout_mistake(last="result.T"), "you returned the transpose"),
                 Mistake(_rollout_mistake(step="layer * result"), "element by element"),
                 Mistake(_rollout_mistake(layers="weights.sum(axis=1) + np.eye(weights.shape[-1]); "
                                                 "A = A / A.sum(-1, keepdims=True)"), "summed, not averaged"),
                 Mistake("def rollout(weights):\n    return weights.sum()\n", "expected an (n, n)"),
             )),
    Exercise(checker=check_pooling_prediction, reference="attn_course.exercises.applications.FIRST_WEIGHT",
             chapter="06_applications", solution="first_weight", level="predict", points=1,
             mistakes=(Mistake("first_weight = np.exp(2) / np.exp([2, 1, 0, 5]).sum()", "counts the padding"),
                       Mistake("first_weight = np.exp(2) / (np.exp(2) + np.exp(1) + 1 + 1)", "as if its score were 0"),
                       Mistake("first_weight = 2 / 3", "not proportional to the scores"))),
    Exercise(checker=check_uniform_rollout, reference="attn_course.exercises.applications.uniform_rollout_diagonal",
             chapter="06_applications", solution="rollout_diagonal", level="derive", points=2,
             mistakes=(Mistake("def rollout_diagonal(n, layers):\n    return 1 / n", "what does the residual"),
                       Mistake("def rollout_diagonal(n, layers):\n    return 1 / n + (1 - 1 / n) / 2",
                               "the diagonal of ONE layer"),
                       Mistake("def rollout_diagonal(n, layers):\n    return 0.5 ** layers + 1 / n",
                               "check the coefficients"))),
    Exercise(checker=check_class_maps, reference="attn_course.exercises.applications.class_maps",
             chapter="06_applications", solution="class_maps", level="hard", points=3,
             mistakes=(Mistake("def class_maps(w):\n    raw = w[:, -1].mean(axis=1)[:, 0, 1:].reshape(len(w), 3, 3)\n"
                               "    a = (w.mean(axis=2) + np.eye(w.shape[-1])) / 2\n    r = a[:, 0]\n"
                               "    for l in range(1, a.shape[1]):\n        r = a[:, l] @ r\n"
                               "    return raw, r[:, 0, 1:].reshape(len(w), 3, 3)", "do not sum to 1"),
                       Mistake("def class_maps(w):\n    norm = lambda m: m / m.sum(axis=-1, keepdims=True)\n"
                               "    raw = norm(w[:, -1].mean(axis=1)[:, 1:, 0]).reshape(len(w), 3, 3)\n"
                               "    a = (w.mean(axis=2) + np.eye(w.shape[-1])) / 2\n    r = a[:, 0]\n"
                               "    for l in range(1, a.shape[1]):\n        r = a[:, l] @ r\n"
                               "    return raw, norm(r[:, 0, 1:]).reshape(len(w), 3, 3)", "COLUMN"),
                       Mistake("def class_maps(w):\n    norm = lambda m: m / m.sum(axis=-1, keepdims=True)\n"
                               "    raw = norm(w[:, -1].mean(axis=1)[:, 0, 1:]).reshape(len(w), 3, 3)\n"
                               "    a = (w.mean(axis=2) + np.eye(w.shape[-1])) / 2\n    r = a[:, 0]\n"
                               "    for l in range(1, a.shape[1]):\n        r = r @ a[:, l]\n"
                               "    return raw, norm(r[:, 0, 1:]).reshape(len(w), 3, 3)", "wrong order"))),
]
