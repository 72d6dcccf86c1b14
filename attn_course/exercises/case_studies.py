"""Checkers for the exercises of chapter 4b (case studies: the source's listing, a translator, a ViT).

    check_listing_attention(fn)   fn(query, keys, values) -> output (d_v,): the source's §4.3 listing
                                  corrected, one query (debug)
    check_patch_distribution(fn)  fn(scores) -> the [class] query's weights over the patches only (derive)
    check_top_patch(fn)           fn(w_cls, grid) -> (row, col) of the patch with the largest weight (implement)
    check_ink_share(fn)           fn(images, w_cls, patch) -> (m,) share of each image's patch weight on
                                  patches with ink (hard)

The references: listing_attention (the package's scaled_dot_product_attention on one query),
patch_distribution (the package's softmax of the patch scores), top_patch and ink_share. Exercise 4b.1,
the prediction about the listing, is in mathematics.py with the rest of chapter 4.
"""
import numpy as np

from ..attention import scaled_dot_product_attention
from ..softmax import softmax
from .feedback import Feedback, call, checker, fail
from .registry import Exercise, Mistake


def _close(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(np.isfinite(a))) and np.allclose(a, b, rtol=1e-6, atol=1e-9)


def _one_array(result, what):
    """(array, None), or (None, Feedback) when the learner returned a tuple or something that is no array."""
    if isinstance(result, tuple):
        return None, fail(f"expected {what}, got a tuple of {len(result)}: look at your return statement",
                          f"return {what} only")
    try:
        return np.asarray(result, dtype=np.float64), None
    except (TypeError, ValueError):
        return None, fail(f"expected {what}, got {type(result).__name__}: look at your return statement",
                          f"return {what}")


# ---------------------------------------------------------------------------------------------------
# Exercise 4b.2 (debug): the listing, corrected

def listing_attention(query, keys, values):
    """The reference: attention of one query, query: (d_k,), keys: (n, d_k), values: (n, d_v) -> (d_v,)."""
    return scaled_dot_product_attention(query[None], keys, values)[0][0]


def _listing_case(seed, n=5, d_k=4, d_v=3, big=1.0):
    rng = np.random.default_rng(seed)
    query, keys, values = rng.standard_normal(d_k), rng.standard_normal((n, d_k)), rng.standard_normal((n, d_v))
    if big != 1:  # a query along the first key: that score is large and positive
        query = big * keys[0] / np.linalg.norm(keys[0])
    return query, keys, values


@checker
def check_listing_attention(fn):
    """Check `fn(query, keys, values) -> output`: scaled dot-product attention of one query,
    query: (d_k,), keys: (n, d_k), values: (n, d_v), output: (d_v,) = sum_i w_i v_i with
    w = softmax(keys @ query / sqrt(d_k))."""
    fix = "scores = keys @ query / np.sqrt(len(query)); weights = ac.softmax(scores); return weights @ values"
    for label, (query, keys, values) in (("", _listing_case(0)), ("on large scores ", _listing_case(1, big=2000.0))):
        n, d_k, d_v = len(keys), len(query), values.shape[1]
        result, error = call(fn, query, keys, values)
        if error is not None:
            return error
        output, error = _one_array(result, "the output, one vector of size d_v")
        if error is not None:
            return error
        scores = keys @ query / np.sqrt(d_k)
        weights = softmax(scores)
        if output.shape == (n,):
            what = ("each score times its own weight, the listing's step 3" if _close(output, scores * weights)
                    else "one number per key")
            return fail(f"output has shape ({n},), {what}: attention returns one vector of size d_v = {d_v}. Look at "
                        "where the values enter", "the output is a weighted sum of the VALUES, sum_i w_i v_i; the "
                        "scores only decide the weights", fix)
        if output.shape == (d_k,) and d_k != d_v:
            return fail(f"output has size {d_k}, the keys' size, not the values' d_v = {d_v}: look at which vectors "
                        "you average", "the keys decide the weights; the values are what is averaged", fix)
        if output.shape != (d_v,):
            return fail(f"output has shape {output.shape}, expected (d_v,) = ({d_v},): look at the weighted sum",
                        "weights: (n,), values: (n, d_v), so weights @ values is (d_v,)", fix)
        if _close(output, listing_attention(query, keys, values)):
            continue
        if not np.all(np.isfinite(output)):
            return fail(f"{label}the output is NaN or inf: look at the exponentials",
                        "these scores reach thousands, and exp(710) already overflows to inf; inf / inf is NaN",
                        "subtract the largest score before exp, or use ac.softmax, which does")
        if _close(output, softmax(keys @ query) @ values):
            return fail(f"{label}the weights are too peaked: the scores are not scaled. Look at keys @ query",
                        "the variance of q·k grows with d_k (chapter 4)", f"divide the scores by sqrt(d_k) = "
                        f"{np.sqrt(d_k):g}")
        if _close(output, scores @ values):
            return fail(f"{label}the values are weighted by the raw scores: the weights are not normalised. Look at "
                        "the listing's step 2", "attention's weights are positive and sum to 1: a softmax of the "
                        "scores", fix)
        return fail(f"{label}output differs from the weighted sum of the values: look at the scores and the softmax",
                    "print the weights: they should be positive and sum to 1", fix)
    return Feedback(True, "correct: one query's scores against every key, one softmax, and the weighted sum of the "
                          "values, a vector of size d_v, stable on large scores")


# ---------------------------------------------------------------------------------------------------
# Exercise 4b.3 (derive): the [class] token's weights over the patches only

def patch_distribution(scores):
    """The reference: scores: (..., tokens) of the [class] query, token 0 = [class] -> (..., tokens - 1),
    its weights renormalised over the patches, which is the softmax of the patch scores."""
    return softmax(np.asarray(scores)[..., 1:])


@checker
def check_patch_distribution(fn):
    """Check `fn(scores) -> weights`: scores (..., tokens) of the [class] token's query over the tokens
    ([class] first, then the patches); weights (..., tokens - 1): the softmax weights renormalised over
    the patches alone."""
    rng = np.random.default_rng(2)
    fix = "softmax(scores[..., 1:]): the [class] term cancels when you renormalise"
    for label, scores in (("for one image, ", 2 * rng.standard_normal(17)),
                          ("for a batch (3, 17), ", 2 * rng.standard_normal((3, 17))),
                          ("on scores near 800, ", 800 + rng.standard_normal(17))):
        result, error = call(fn, scores.copy())
        if error is not None:
            return error
        got, error = _one_array(result, "the weights over the patches")
        if error is not None:
            return error
        right = patch_distribution(scores)
        if got.shape == scores.shape:
            return fail(f"{label}the weights have shape {got.shape}, one per token: the [class] token is still in. "
                        "Look at which key you leave out", "token 0 is the [class] token itself; the patches are "
                        "tokens 1 to 16", fix)
        if got.shape != right.shape:
            return fail(f"{label}the weights have shape {got.shape}, expected {right.shape}: one weight per patch",
                        "keep the batch axes, drop token 0 of the last axis", fix)
        if _close(got, right):
            continue
        if not np.all(np.isfinite(got)):
            return fail(f"{label}the weights are NaN or inf: look at the exponentials", "exp(800) overflows to inf",
                        "subtract the largest score first, as ac.softmax does")
        if _close(got, softmax(scores)[..., 1:]):
            sums = np.round(got.sum(axis=-1), 3)
            return fail(f"{label}the weights sum to {sums}, not 1: the [class] token's share was dropped and the rest "
                        "not renormalised. Look at your derivation", "divide each patch weight w_j by the sum of "
                        "the patch weights: the factor 1 / sum_k exp(s_k) cancels, and with it the [class] term",
                        fix)
        if _close(got, softmax(softmax(scores[..., 1:]))):
            return fail(f"{label}the weights are too flat: a softmax of a softmax. Look at how many times you "
                        "normalise", "a softmax's inputs here lie in [0, 1], so no weight can come out more than "
                        "e times another: the source's §4.3.2 makes this mistake", fix)
        if _close(got, softmax(scores[..., :-1])):
            return fail(f"{label}these are the weights of tokens 0 to 15: the last patch was dropped, not the "
                        "[class] token. Look at the index of token 0", "the [class] token comes first", fix)
        if scores.ndim > 1 and _close(got, softmax(scores[..., 1:], axis=0)):
            return fail(f"{label}each row should sum to 1, but the columns do: look at the axis of the softmax",
                        "it ran over the images; it must run over the patches", "softmax(..., axis=-1)")
        return fail(f"{label}the weights differ from the softmax of the patch scores: look at your derivation",
                    "write w_j / sum_{k >= 1} w_k with w_j = exp(s_j) / sum_l exp(s_l) and simplify", fix)
    return Feedback(True, "correct: renormalising the softmax over the patches is the softmax of the patch scores "
                          "(the [class] term cancels), batched and stable on large scores")


# ---------------------------------------------------------------------------------------------------
# Exercise 4b.4 (implement): the patch the [class] token looks at most

def top_patch(w_cls, grid):
    """The reference: w_cls: (1 + grid², ) weights of the [class] query, [class] first, then the patches in
    reading order (token 1 + grid r + c is the patch in row r, column c) -> (r, c) of the largest."""
    return tuple(int(i) for i in divmod(int(np.argmax(np.asarray(w_cls)[1:])), grid))


def _top_patch_cases():
    rng = np.random.default_rng(3)
    cases = []
    for grid, top in ((4, (1, 2)), (4, (3, 0)), (3, (2, 1))):
        w = rng.random(1 + grid * grid) * 0.02
        w[1 + grid * top[0] + top[1]] = 0.3    # the top patch, with row != column
        w[0] = 0.5                             # the [class] token attends to itself most, as in the ViT
        cases.append((w / w.sum(), grid))
    return cases


@checker
def check_top_patch(fn):
    """Check `fn(w_cls, grid) -> (row, col)`: w_cls (1 + grid²,) holds the [class] token's weights over
    [class] and the grid x grid patches in reading order; return the row and column of the patch with the
    largest weight (the [class] token itself is no patch)."""
    fix = "r, c = divmod(int(np.argmax(w_cls[1:])), grid)"
    for w, grid in _top_patch_cases():
        result, error = call(fn, w.copy(), grid)
        if error is not None:
            return error
        try:
            got = tuple(int(i) for i in result)
        except (TypeError, ValueError):
            return fail(f"expected a pair (row, col) of integers, got {type(result).__name__}: look at your return "
                        "statement", "return r, c")
        right = top_patch(w, grid)
        if len(got) != 2:
            return fail(f"expected a pair (row, col), got {len(got)} numbers: look at your return statement",
                        "return r, c", fix)
        if got == right:
            continue
        if got == right[::-1]:
            return fail(f"for a {grid}x{grid} grid you returned {got}, row and column swapped: look at how the token "
                        "index maps to the grid", f"token 1 + grid r + c: each row holds grid = {grid} patches", fix)
        if got == tuple(divmod(int(np.argmax(w)), grid)) or got == tuple(divmod(int(np.argmax(w)) - 1, grid)):
            return fail(f"for a {grid}x{grid} grid you returned {got}: the [class] token's own weight won. Look at "
                        "which tokens are patches", "token 0 is the [class] token, and here it attends to itself "
                        "most, as in the ViT", fix)
        if got == tuple(divmod(int(np.argmax(w[1:])) + 1, grid)):
            return fail(f"for a {grid}x{grid} grid you returned {got}, one patch too far: look at the index after you "
                        "drop token 0", "in w_cls[1:], index i is patch i, already counted from 0", fix)
        if grid != 4 and got == tuple(divmod(int(np.argmax(w[1:])), 4)):
            return fail(f"right for a 4x4 grid only: for a {grid}x{grid} grid you returned {got}. Look at the number "
                        "of patches per row", "use the argument grid, not the 4 of the chapter's ViT", fix)
        return fail(f"for a {grid}x{grid} grid the top patch is {right}, you returned {got}: look at the argmax",
                    "the largest of the patches' weights, w_cls[1:], then its row and column", fix)
    return Feedback(True, "correct: the largest weight among the patches, w_cls[1:], at row, column = divmod(index, "
                          "grid), for any grid")


# ---------------------------------------------------------------------------------------------------
# Exercise 4b.5 (hard): how much of the [class] token's attention lands on ink

def ink_share(images, w_cls, patch):
    """The reference: images (m, H, W) with H = W = grid * patch, w_cls (m, 1 + grid²) -> (m,): the share of
    each image's weight over the patches (renormalised, [class] left out) on patches with some ink."""
    images, w_cls = np.asarray(images), np.asarray(w_cls)
    m, height, _ = images.shape
    grid = height // patch
    ink = images.reshape(m, grid, patch, grid, patch).sum(axis=(2, 4))    # (m, grid, grid): ink per patch
    on_patches = w_cls[:, 1:] / w_cls[:, 1:].sum(axis=-1, keepdims=True)   # (m, grid²): [class] left out
    return (on_patches * (ink.reshape(m, -1) > 0)).sum(axis=-1)            # (m,)


def _ink_case(m=6, grid=4, patch=2):
    rng = np.random.default_rng(4)
    images = rng.random((m, grid * patch, grid * patch))
    images[rng.random(images.shape) < 0.7] = 0.0                # sparse ink, as in a digit
    images[:, :, :patch] = 0.0                                  # a blank first column of patches
    images[:, :2 * patch, 2 * patch:] = 0.0                     # and a blank top-right block: no symmetry
    w = rng.random((m, 1 + grid * grid))
    w[:, 0] += 2.0                                              # [class] attends to itself much
    return images, w / w.sum(axis=-1, keepdims=True), patch


def _ink_variants(images, w, patch):
    """What the usual slips compute, by name."""
    m, height, _ = images.shape
    g = height // patch
    per_patch = images.reshape(m, g, patch, g, patch).sum(axis=(2, 4)).reshape(m, -1) > 0
    blocked = images.reshape(m, g, g, patch, patch).sum(axis=(3, 4)).reshape(m, -1) > 0
    transposed = np.swapaxes(per_patch.reshape(m, g, g), 1, 2).reshape(m, -1)
    renorm = w[:, 1:] / w[:, 1:].sum(axis=-1, keepdims=True)
    shifted = w[:, :-1] / w[:, :-1].sum(axis=-1, keepdims=True)
    return {"not renormalised": (w[:, 1:] * per_patch).sum(-1), "blocked": (renorm * blocked).sum(-1),
            "transposed": (renorm * transposed).sum(-1), "shifted": (shifted * per_patch).sum(-1)}


@checker
def check_ink_share(fn):
    """Check `fn(images, w_cls, patch) -> shares`: images (m, H, W) cut into patch x patch patches, w_cls
    (m, 1 + grid²) the [class] token's weights ([class] first, patches in reading order); shares (m,): for
    each image, the share of its weight over the patches alone (renormalised) that lies on patches whose
    pixels are not all 0."""
    images, w, patch = _ink_case()
    m = len(images)
    fix = ("ink = images.reshape(m, grid, patch, grid, patch).sum(axis=(2, 4)); p = w_cls[:, 1:] / "
           "w_cls[:, 1:].sum(-1, keepdims=True); return (p * (ink.reshape(m, -1) > 0)).sum(-1)")
    result, error = call(fn, images.copy(), w.copy(), patch)
    if error is not None:
        return error
    got, error = _one_array(result, "one share per image")
    if error is not None:
        return error
    if got.shape != (m,):
        return fail(f"expected one share per image, shape ({m},), got {got.shape}: look at the last step",
                    "sum over the patches only, not over the images", fix)
    right = ink_share(images, w, patch)
    if _close(got, right):
        return Feedback(True, "correct: ink per patch from a (m, grid, patch, grid, patch) view of the images, the "
                              "[class] weight left out and the rest renormalised, summed over the inked patches")
    slips = {name: _close(got, value) for name, value in _ink_variants(images, w, patch).items()}
    if slips["not renormalised"]:
        return fail("the shares are too small: they count the weight the [class] token puts on itself. Look at the "
                    "normalisation", "renormalise the patch weights w_cls[:, 1:] so that they sum to 1 per image "
                    "(exercise 4b.3)", fix)
    if slips["shifted"]:
        return fail("your weights are those of tokens 0 to 15, one token off: look at which token is [class]",
                    "token 0 is the [class] token; the patches are tokens 1 to grid²", fix)
    if slips["blocked"]:
        return fail("the ink of each patch is wrong: look at how you cut the images into patches",
                    "a pixel's row is (patch row, row inside the patch): reshape to (m, grid, patch, grid, patch), "
                    "not (m, grid, grid, patch, patch)", fix)
    if slips["transposed"]:
        return fail("the patches are matched to the wrong weights, rows for columns: look at the order of the grid",
                    "token 1 + grid r + c is the patch in row r, column c: reading order, row by row", fix)
    if np.any(got < -1e-9) or np.any(got > 1 + 1e-9):
        return fail(f"shares must lie between 0 and 1, got values from {got.min():.3g} to {got.max():.3g}: look at "
                    "the normalisation", "a share is a sum of weights that sum to 1 over the patches", fix)
    return fail("the shares differ from the reference: check each step on one image",
                "the ink per patch, the renormalised patch weights, then their sum over inked patches", fix)


def _function(signature, *body):
    return f"def {signature}:\n" + "".join(f"    {line}\n" for line in body)


_LISTING = "listing_attention(query, keys, values)"
_PATCHES = "patch_distribution(scores)"
_TOP = "top_patch(w_cls, grid)"
_INK = "ink_share(images, w_cls, patch)"
_INK_BODY = ("m, grid = len(images), images.shape[1] // patch",
             "ink = images.reshape(m, grid, patch, grid, patch).sum(axis=(2, 4)).reshape(m, -1)")

EXERCISES = [
    Exercise(checker=check_listing_attention, reference="attn_course.exercises.case_studies.listing_attention",
             chapter="04b_case_studies", solution="listing_attention", level="debug", mistakes=(
                 Mistake(_function(_LISTING, "scores = keys @ query / np.sqrt(len(query))",
                                   "weights = np.exp(scores) / np.exp(scores).sum()",
                                   "return scores * weights"), "the listing's step 3"),
                 Mistake(_function(_LISTING, "import attn_course as ac",
                                   "return ac.softmax(keys @ query / np.sqrt(len(query))) @ keys"), "the keys' size"),
                 Mistake(_function(_LISTING, "import attn_course as ac",
                                   "return ac.softmax(keys @ query) @ values"), "not scaled"),
                 Mistake(_function(_LISTING, "scores = keys @ query / np.sqrt(len(query))",
                                   "return np.exp(scores) / np.exp(scores).sum() @ values"), "NaN or inf"),
                 Mistake(_function(_LISTING, "return keys @ query / np.sqrt(len(query)) @ values"),
                         "not normalised"),
             )),
    Exercise(checker=check_patch_distribution, reference="attn_course.exercises.case_studies.patch_distribution",
             chapter="04b_case_studies", solution="patch_distribution", level="derive", points=2, mistakes=(
                 Mistake(_function(_PATCHES, "import attn_course as ac", "return ac.softmax(scores)[..., 1:]"),
                         "not renormalised"),
                 Mistake(_function(_PATCHES, "import attn_course as ac", "return ac.softmax(ac.softmax(scores[..., 1:]))"),
                         "a softmax of a softmax"),
                 Mistake(_function(_PATCHES, "import attn_course as ac", "return ac.softmax(scores)"),
                         "the [class] token is still in"),
                 Mistake(_function(_PATCHES, "import attn_course as ac", "return ac.softmax(scores[..., :-1])"),
                         "the last patch was dropped"),
                 Mistake(_function(_PATCHES, "e = np.exp(scores[..., 1:])", "return e / e.sum(axis=-1, keepdims=True)"),
                         "NaN or inf"),
                 Mistake(_function(_PATCHES, "import attn_course as ac", "return ac.softmax(scores[..., 1:], axis=0)"),
                         "the columns do"),
             )),
    Exercise(checker=check_top_patch, reference="attn_course.exercises.case_studies.top_patch",
             chapter="04b_case_studies", solution="top_patch", level="implement", mistakes=(
                 Mistake(_function(_TOP, "return divmod(int(np.argmax(w_cls)), grid)"), "[class] token's own weight"),
                 Mistake(_function(_TOP, "r, c = divmod(int(np.argmax(w_cls[1:])), grid)", "return c, r"),
                         "row and column swapped"),
                 Mistake(_function(_TOP, "return divmod(int(np.argmax(w_cls[1:])), 4)"), "4x4 grid only"),
                 Mistake(_function(_TOP, "return divmod(int(np.argmax(w_cls[1:])) + 1, grid)"), "one patch too far"),
             )),
    Exercise(checker=check_ink_share, reference="attn_course.exercises.case_studies.ink_share",
             chapter="04b_case_studies", solution="ink_share", level="hard", points=3, mistakes=(
                 Mistake(_function(_INK, *_INK_BODY, "return (w_cls[:, 1:] * (ink > 0)).sum(axis=-1)"),
                         "the weight the [class] token puts on itself"),
                 Mistake(_function(_INK, *_INK_BODY, "p = w_cls[:, :-1] / w_cls[:, :-1].sum(axis=-1, keepdims=True)",
                                   "return (p * (ink > 0)).sum(axis=-1)"), "one token off"),
                 Mistake(_function(_INK, "m, grid = len(images), images.shape[1] // patch",
                                   "ink = images.reshape(m, grid, grid, patch, patch).sum(axis=(3, 4)).reshape(m, -1)",
                                   "p = w_cls[:, 1:] / w_cls[:, 1:].sum(axis=-1, keepdims=True)",
                                   "return (p * (ink > 0)).sum(axis=-1)"), "how you cut the images"),
                 Mistake(_function(_INK, *_INK_BODY, "ink = ink.reshape(m, grid, grid).transpose(0, 2, 1).reshape(m, -1)",
                                   "p = w_cls[:, 1:] / w_cls[:, 1:].sum(axis=-1, keepdims=True)",
                                   "return (p * (ink > 0)).sum(axis=-1)"), "rows for columns"),
                 Mistake(_function(_INK, *_INK_BODY, "p = w_cls[:, 1:] / w_cls[:, 1:].sum(axis=-1, keepdims=True)",
                                   "return (p * (ink > 0)).sum()"), "one share per image"),
             )),
]
