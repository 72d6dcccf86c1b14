"""Checkers for the exercises of chapter 6 (applications): reading attention against the truth.

    check_alignment_accuracy(fn)   fn(weights, truth) -> share of queries whose top key is truly aligned
    check_attention_pooling(fn)    fn(h, u, mask) -> (pooled, weights), attention with one learned query
    check_rollout(fn)              fn(weights) -> attention rollout through the layers (Abnar & Zuidema)
    check_pooling_prediction(w)    predict: the weight a padding mask leaves to word 0
    check_uniform_rollout(fn)      derive: fn(n, layers) -> the diagonal of the rollout of uniform attention
    check_class_maps(fn)           hard: fn(weights) -> the [class] maps, raw and rolled out, of a batch

The references are the package's attn_course.models.alignment_accuracy and attention_rollout (NumPy
functions in a module that imports torch: imported when a checker runs) and attention_pool.
"""
import numpy as np

from ..softmax import softmax
from .feedback import Feedback, call, call_for_pair, not_written
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


def check_alignment_accuracy(fn):
    """Check `fn(weights, truth) -> float`: the share of queries (rows) whose largest weight falls on a
    key that is truly aligned with them. weights: (..., n_q, n_k); truth: bool, the same shape."""
    from ..models import alignment_accuracy

    weights, truth = _alignment_case()
    expected = alignment_accuracy(weights, truth)  # 0.75: 3 of the 4 queries
    result, error = call(fn, weights, truth)
    if error is not None:
        return error
    if np.ndim(result) != 0:
        return Feedback(False, f"return one number (a share of the queries), got an array of shape {np.shape(result)}")
    result = float(result)
    by_column = np.take_along_axis(truth, weights.argmax(axis=0)[None, :], axis=0).mean()
    first_key_only = (weights.argmax(axis=-1) == truth.argmax(axis=-1)).mean()
    if np.isclose(result, expected):
        pass
    elif np.isclose(result, expected * len(truth)):
        return Feedback(False, f"you returned how many queries are right ({result:g}); return the share: divide by "
                               "the number of queries")
    elif np.isclose(result, first_key_only):
        return Feedback(False, "a query may have several true keys (here query 2 comes from keys 1 and 2, as the "
                               "month word comes from two digits): count it right when its top key is ANY true key, "
                               "not only the first one")
    elif np.isclose(result, (weights * truth).sum() / truth.sum()) or np.isclose(result, (weights * truth).sum() / len(truth)):
        return Feedback(False, "that is the average weight on the true keys; the exercise asks which key each query "
                               "picks: take the argmax of each row, then check it against the truth")
    elif np.isclose(result, by_column):
        return Feedback(False, "you took the argmax down each column (over the queries); each query is a row and "
                               "picks its key with argmax over the LAST axis")
    elif np.isclose(result, ((weights * truth).sum(axis=-1) > 0.5).mean()):
        return Feedback(False, "that is the share of queries with more than half their weight on true keys; the "
                               "exercise asks whether each query's TOP key (argmax of its row) is a true key, however "
                               "much weight it has (query 0 picks its true key with weight 0.45)")
    elif np.isclose(result, expected * len(truth) / truth.size):
        return Feedback(False, f"you divided the count of right queries by the number of entries ({truth.size} = "
                               f"queries x keys); divide by the number of queries ({len(truth)})")
    else:
        return Feedback(False, f"expected {expected} on a case where 3 of 4 queries pick a true key, got {result}")

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
    if weights.shape == (b, d) and pooled.shape == (b, n) and n != d:
        return Feedback(False, "the pair is in the wrong order: return (pooled, weights), pooled (batch, d) first")
    if weights.shape != (b, n):
        return Feedback(False, f"weights has shape {weights.shape}, expected (batch, n) = {(b, n)}: one weight per word")
    if pooled.shape != (b, d):
        return Feedback(False, f"pooled has shape {pooled.shape}, expected (batch, d) = {(b, d)}: one vector per sentence")
    if not np.all(np.isfinite(weights)):
        return Feedback(False, "weights contain NaN or inf")
    scores = h @ u
    if np.allclose(weights.sum(axis=0), 1.0) and not np.allclose(weights.sum(axis=-1), 1.0):
        return Feedback(False, "each column of weights sums to 1: the softmax ran over the batch; each sentence's "
                               "weights must sum to 1 over its words (axis=-1)")
    if (weights[~mask] != 0).any():
        if np.allclose(weights, _softmax(scores, np.ones_like(mask))):
            return Feedback(False, "the padding gets weight: the mask is ignored. Set the scores of padded positions "
                                   "to -inf before the softmax, so that exp gives them exactly 0")
        if np.allclose(weights, _softmax(scores * mask, np.ones_like(mask))):
            return Feedback(False, "the padded scores were multiplied by the mask, which sets them to 0, not -inf: "
                                   "exp(0) = 1, so the padding still gets weight. Use np.where(mask, scores, -np.inf)")
        return Feedback(False, f"padded positions must get weight exactly 0, got up to {np.abs(weights[~mask]).max():.3g}")
    if not np.allclose(weights.sum(axis=-1), 1.0):
        full = _softmax(scores, np.ones_like(mask))
        if np.allclose(weights, np.where(mask, full, 0.0)):
            return Feedback(False, "the padding's weights were zeroed after the softmax, so a padded sentence's weights "
                                   f"sum to {np.round(weights.sum(-1), 3).tolist()}, not 1: mask the scores BEFORE the softmax")
        return Feedback(False, f"each sentence's weights must sum to 1, got sums {np.round(weights.sum(-1), 3).tolist()}")
    expected_pooled, expected = attention_pool(h, u, mask)
    if not np.allclose(weights, expected, atol=1e-6):
        if np.allclose(weights, _softmax(scores / np.sqrt(d), mask), atol=1e-6):
            return Feedback(False, f"the scores are divided by sqrt(d) = {np.sqrt(d):g}; this exercise's score is the "
                                   "plain dot product h @ u")
        return Feedback(False, "weights differ from the softmax over the real words of the scores h @ u")
    if not np.allclose(pooled, expected_pooled, atol=1e-6):
        if np.allclose(pooled, np.einsum("bn,bnd->bd", mask / mask.sum(-1, keepdims=True), h)):
            return Feedback(False, "pooled is the plain average of the words; it must be the weighted sum "
                                   "sum_j weights_j h_j")
        return Feedback(False, "pooled is not the weighted sum of the word vectors, sum_j weights_j h_j")

    h_big, u_big, mask_big = _pooling_case(seed=1, scale=1000.0)  # scores up to about 1400: exp overflows
    with np.errstate(all="ignore"):
        result, error = call(fn, h_big, u_big, mask_big)
    if error is not None:
        return Feedback(False, f"with large scores your function raised {error.message.split(': ', 1)[-1]}")
    pooled_big, weights_big = (np.asarray(r, dtype=np.float64) for r in result)
    if not (np.all(np.isfinite(weights_big)) and np.all(np.isfinite(pooled_big))):
        return Feedback(False, "with large scores (above 709, where exp overflows float64) the weights overflow to NaN/inf: subtract each "
                               "sentence's largest score before exp (softmax does not change when you shift the scores)")
    if not np.allclose(weights_big, attention_pool(h_big, u_big, mask_big)[1], atol=1e-6):
        return Feedback(False, "with large scores the weights are wrong, though finite: check the softmax's stability")
    return Feedback(True, "correct: dot-product scores, padding masked before a stable softmax over each sentence, "
                          "and the weighted sum of the word vectors")


# ---------------------------------------------------------------------------------------------------

def _rollout(weights, residual=True, mean=True, order="later-left", normalise=True):
    """The typical variants of the rollout (the reference is attn_course.models.attention_rollout).
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


def check_rollout(fn):
    """Check `fn(weights) -> (n, n)`: attention rollout (Abnar & Zuidema, ACL 2020).

    weights: (layers, heads, n, n), each row a softmax. Per layer: average the heads and account for the
    residual connection, A = (mean_heads W + I) / 2; then rollout = A_L @ ... @ A_2 @ A_1.
    """
    from ..models import attention_rollout

    weights = _rollout_case()
    n = weights.shape[-1]
    result, error = call(fn, weights)
    if error is not None:
        return error
    result = np.asarray(result, dtype=np.float64)
    if result.shape != (n, n):
        return Feedback(False, f"expected an (n, n) = {(n, n)} matrix (token to input token), got shape {result.shape}"
                               + (": average over the heads and chain over the layers" if result.ndim > 2 else ""))
    if np.allclose(result, attention_rollout(weights)):
        return Feedback(True, "correct: heads averaged, the residual added, rows renormalised, and the layers "
                              "chained with the later layer on the left")
    rows = result.sum(axis=-1)
    if np.allclose(result, _rollout(weights, order="earlier-left")):
        return Feedback(False, "the layers are multiplied in the wrong order: information flows from layer 1 up, so "
                               "the later layer goes on the LEFT: rollout = A_L @ ... @ A_2 @ A_1")
    if np.allclose(result, _rollout(weights, residual=False)):
        return Feedback(False, "the residual connection is missing: each layer also passes its input on unchanged, "
                               "so use A = (mean over heads + I) / 2 instead of the attention alone")
    if np.allclose(result, _rollout(weights, normalise=False)):
        return Feedback(False, f"the rows sum to {rows[0]:g}, not 1: after adding the identity, divide by 2 "
                               "(renormalise each row)")
    if np.allclose(result, _rollout(weights, mean=False)):
        return Feedback(False, "the heads are combined with max; Abnar & Zuidema average them (mean over axis -3)")
    if np.allclose(result, attention_rollout(weights[-1:])) or np.allclose(result, weights[-1].mean(axis=0)):
        return Feedback(False, "only the last layer is used; the rollout chains every layer, first to last")
    if np.allclose(result, attention_rollout(weights).T):
        return Feedback(False, "you returned the transpose: row i must be token i's distribution over the input "
                               "tokens (each row sums to 1); chain as rollout = A_L @ ... @ A_1, no .T")
    if np.allclose(result, _rollout_elementwise(weights)):
        return Feedback(False, "the layers are multiplied element by element (*); chaining layers is a matrix "
                               "product (@): token i reaches input j through every token k in between")
    if np.allclose(result, np.mean([attention_rollout(weights[:, h:h + 1]) for h in range(weights.shape[1])], axis=0)):
        return Feedback(False, "each head was rolled out on its own and the results averaged; average the heads "
                               "within each layer FIRST (a layer's output mixes all its heads), then chain the layers")
    if np.allclose(result, _rollout(weights * weights.shape[1], mean=True)):
        return Feedback(False, f"the heads are summed, not averaged: with {weights.shape[1]} heads the residual then "
                               "counts for too little; use the mean over the heads (axis -3) before adding I")
    if not np.allclose(rows, 1.0):
        return Feedback(False, f"each row of the rollout must sum to 1 (a distribution over input tokens), "
                               f"got row sums {np.round(rows, 3).tolist()}")
    return Feedback(False, "the result differs from the rollout A_L @ ... @ A_1 with A = (mean over heads + I) / 2")


# ---------------------------------------------------------------------------------------------------
# Exercise 6.4 (predict): the weight a padding mask leaves

POOL_SCORES, POOL_MASK = np.array([2.0, 1.0, 0.0, 5.0]), np.array([True, True, True, False])  # word 3: padding
FIRST_WEIGHT = float(softmax(POOL_SCORES, mask=POOL_MASK)[0])  # the reference prediction, computed


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
    from ..models import attention_rollout
    return attention_rollout(np.full((layers, 2, n, n), 1 / n))  # 2 heads, both uniform


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
    heads averaged (raw) and of the attention rollout (rolled), each rescaled to sum to 1, as models.cls_maps
    does for one image."""
    from ..models import attention_rollout
    w = np.asarray(weights, dtype=np.float64)
    raw, rolled = w[:, -1].mean(axis=1)[:, 0, 1:], attention_rollout(w)[:, 0, 1:]     # (batch, g^2) each
    g = int(round(np.sqrt(raw.shape[-1])))
    return tuple((m / m.sum(axis=-1, keepdims=True)).reshape(len(w), g, g) for m in (raw, rolled))


def _vit_like_weights(seed=66, batch=3, layers=3, heads=2, n=10):
    """Random attention weights shaped like a ViT's with 9 patches (3 x 3) and a [class] token; row-softmaxed."""
    rng = np.random.default_rng(seed)
    return softmax(rng.normal(0, 1.5, (batch, layers, heads, n, n)), axis=-1)


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
        from ..models import attention_rollout
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


EXERCISES = [
    Exercise(checker=check_alignment_accuracy, reference="attn_course.models.alignment_accuracy",
             chapter="06_applications", solution="alignment_accuracy"),
    Exercise(checker=check_attention_pooling, reference="attn_course.exercises.applications.attention_pool",
             chapter="06_applications", solution="attention_pool"),
    Exercise(checker=check_rollout, reference="attn_course.models.attention_rollout",
             chapter="06_applications", solution="rollout", level="implement"),
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
