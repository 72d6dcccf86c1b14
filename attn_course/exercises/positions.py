"""Checkers for the exercises of chapter 5b, positional information.

    check_same_rope_score(pairs)        predict: which (m, n) give the RoPE score of (2, 5)
    check_shift_matrix(fn)              derive: fn(delta, d_model) -> M with PE(pos + delta) = M @ PE(pos)
    check_rope(fn)                      implement: fn(x, positions) -> x with each pair (2i, 2i+1) of row j
                                        turned by positions[j] * 10000^(-2i/d)

The references are the package's attn_course.positional.sinusoidal_shift and rotary_embedding, and
SAME_SCORE_AS_2_5 here (computed from rotary_embedding).
"""
import numpy as np

from ..positional import rotary_embedding, sinusoidal_encoding
from .feedback import Feedback, call, checker, not_written
from .registry import Exercise, Mistake

# ---------------------------------------------------------------------------------------------------
# 5b.1 (predict): which position pairs give the same RoPE score

ROPE_CANDIDATES = ((0, 3), (5, 2), (7, 10), (2, 6), (30, 33), (3, 5))
"""(m, n): a query at position m against a key at position n. Compared with (2, 5)."""


def _rope_score(q, k, m, n):
    return float(rotary_embedding(q[None], [m])[0] @ rotary_embedding(k[None], [n])[0])


def _same_as(target):
    """The candidates whose score equals target's for any q and k: measured on random ones."""
    q, k = np.random.default_rng(0).standard_normal((2, 8))
    s = _rope_score(q, k, *target)
    return frozenset(p for p in ROPE_CANDIDATES if abs(_rope_score(q, k, *p) - s) < 1e-9 * (1 + abs(s)))


SAME_SCORE_AS_2_5 = _same_as((2, 5))


@checker
def check_same_rope_score(pairs):
    """Check `pairs`: the (m, n) of ROPE_CANDIDATES whose RoPE score R_m q · R_n k equals that of (2, 5),
    for every q and k."""
    if pairs is Ellipsis:
        return not_written("this prediction", "the `...` in its cell")
    try:
        chosen = {tuple(int(x) for x in p) for p in pairs}
    except (TypeError, ValueError):
        return Feedback(False, f"expected a set of (m, n) pairs such as {{(0, 3)}}, got {pairs!r}")
    if any(len(p) != 2 for p in chosen):
        return Feedback(False, "each entry is one pair (m, n): the query's position, then the key's")
    strangers = chosen - set(ROPE_CANDIDATES)
    if strangers:
        return Feedback(False, f"{sorted(strangers)} are not among the candidates {list(ROPE_CANDIDATES)}")
    offset_hint = ("RoPE turns q by mθ and k by nθ; a dot product of two turned vectors depends only on the angle "
                   "between them", "that angle is (n - m)θ: compute n - m for (2, 5) and for each candidate",
                   "keep the pairs with n - m = +3 (the sign matters): {(0, 3), (7, 10), (30, 33)}")
    if (5, 2) in chosen:
        return Feedback(False, "(5, 2) is in your set: compare its offset n - m with that of (2, 5), sign included; "
                               "q and k are different vectors", hints=offset_hint)
    wrong = sorted(chosen - SAME_SCORE_AS_2_5)
    if wrong:
        return Feedback(False, f"{wrong} give a different score than (2, 5): what do they change, compared with it?",
                        hints=offset_hint)
    missing = sorted(SAME_SCORE_AS_2_5 - chosen)
    if missing:
        return Feedback(False, f"{len(missing)} candidate(s) with the same score are missing: positions far from "
                               "(2, 5) can still give its score", hints=offset_hint)
    return Feedback(True, "correct: the pairs with n - m = +3, however far along the sequence they are")


# ---------------------------------------------------------------------------------------------------
# 5b.2 (derive): the linear map that shifts the sinusoidal encoding

def _pair_blocks(cos, sin_upper, sin_lower):
    """A block-diagonal (d, d) matrix with [[cos, sin_upper], [sin_lower, cos]] on pair i."""
    d = 2 * len(cos)
    m = np.zeros((d, d))
    m[0::2, 0::2], m[1::2, 1::2] = np.diag(cos), np.diag(cos)
    m[0::2, 1::2], m[1::2, 0::2] = np.diag(sin_upper), np.diag(sin_lower)
    return m


@checker
def check_shift_matrix(fn):
    """Check `fn(delta, d_model) -> (d_model, d_model)` M with PE(pos + delta) = M @ PE(pos) for every pos,
    PE the rows of attn_course.sinusoidal_encoding (sines in even columns, cosines in odd ones)."""
    d, n = 8, 40
    pe = sinusoidal_encoding(n + 10, d)
    freq = 10000.0 ** (-np.arange(0, d, 2) / d)
    hints = ("write pair i of PE(pos + δ) with the angle-addition formulas: sin(x + a) and cos(x + a), "
             "x = pos ω_i, a = δ ω_i, ω_i = 10000^(-2i/d_model)",
             "each is a combination of sin x and cos x with coefficients cos a and ± sin a: a 2 × 2 block per pair",
             "M is block diagonal, block i = [[cos a, sin a], [-sin a, cos a]] on rows and columns (2i, 2i + 1), "
             "a = δ ω_i (attn_course.positional.sinusoidal_shift)")
    for delta in (1, 5):
        result, error = call(fn, delta, d)
        if error is not None:
            return error
        try:
            m = np.asarray(result, dtype=np.float64)
        except (TypeError, ValueError):
            return Feedback(False, f"expected a (d_model, d_model) array of numbers, got {type(result).__name__}")
        if m.shape != (d, d):
            return Feedback(False, f"for d_model = {d} your matrix has shape {m.shape}, expected {(d, d)}: it maps "
                                   "one encoding (a row of d_model numbers) to another")
        shifted = pe[:n] @ m.T                                     # row pos: M @ PE(pos)
        if np.allclose(shifted, pe[delta:n + delta], atol=1e-9):
            continue
        a = delta * freq
        if delta <= 5 and np.allclose(shifted[delta:], pe[:n - delta], atol=1e-9):
            return Feedback(False, f"your M moves every encoding BACK by δ = {delta}: M @ PE(pos) = PE(pos - δ). "
                                   "Look at the sign of the sine terms", hints=hints)
        if np.allclose(m, _pair_blocks(np.cos(np.full(d // 2, delta)), np.sin(np.full(d // 2, delta)),
                                       -np.sin(np.full(d // 2, delta))), atol=1e-9):
            return Feedback(False, "every pair is turned by the same angle δ: right only for pair 0. Which frequency "
                                   "does pair i turn with?", hints=hints)
        if np.allclose(m, np.diag(np.repeat(np.cos(a), 2)), atol=1e-9):
            return Feedback(False, "your M is diagonal: it scales each coordinate, but the shifted sine needs the "
                                   "cosine of the same pair too (angle addition mixes them)", hints=hints)
        worst = int(np.abs(shifted - pe[delta:n + delta]).max(axis=1).argmax())
        return Feedback(False, f"for δ = {delta}, M @ PE({worst}) differs from PE({worst + delta})", hints=hints)
    return Feedback(True, "correct: one rotation by δ ω_i per pair, the same matrix for every position, so "
                          "'δ positions later' is a linear map a layer can learn")


# ---------------------------------------------------------------------------------------------------
# 5b.3 (implement): rotary position embeddings

def _rope_variant(x, positions, *, rotate_half=False, sign=1.0, per_column=False):
    """The typical variants of RoPE (the reference is attn_course.rotary_embedding)."""
    n, d = x.shape
    angle = np.asarray(positions, dtype=np.float64)[:, None] * 10000.0 ** (-np.arange(0, d, 2) / d)  # (n, d/2)
    if per_column:
        angle = np.asarray(positions, dtype=np.float64)[:, None] * 10000.0 ** (-np.arange(0, d, 2) / (d / 2))
    cos, sin = np.cos(sign * angle), np.sin(sign * angle)
    if rotate_half:
        a, b = x[:, :d // 2], x[:, d // 2:]
        return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=1)
    out = np.empty_like(x)
    out[:, 0::2] = x[:, 0::2] * cos - x[:, 1::2] * sin
    out[:, 1::2] = x[:, 0::2] * sin + x[:, 1::2] * cos
    return out


@checker
def check_rope(fn):
    """Check `fn(x, positions) -> (n, d)`: x (n, d), d even, positions (n,); row j's pair (x[2i], x[2i+1])
    turned by the angle positions[j] * 10000^(-2i/d), as in attn_course.rotary_embedding."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 8))
    positions = np.array([0, 1, 2, 3, 7, 20])
    expected = rotary_embedding(x, positions)
    result, error = call(fn, x.copy(), positions.copy())
    if error is not None:
        return error
    try:
        y = np.asarray(result, dtype=np.float64)
    except (TypeError, ValueError):
        return Feedback(False, f"expected an array of shape {x.shape}, got {type(result).__name__}")
    if y.shape != x.shape:
        return Feedback(False, f"the result has shape {y.shape}, expected x's shape {x.shape}: RoPE turns each row "
                               "in place, it adds no coordinates")
    hints = ("pair i is the coordinates (2i, 2i + 1) of a row, and row j is at position positions[j]",
             "its angle is positions[j] * θ_i with θ_i = 10000^(-2i/d): one frequency per PAIR, from 1 down",
             "out[:, 0::2] = x0 cos - x1 sin and out[:, 1::2] = x0 sin + x1 cos, with x0 = x[:, 0::2], "
             "x1 = x[:, 1::2] and angle = positions[:, None] * 10000 ** (-np.arange(0, d, 2) / d)")
    if np.allclose(y, expected, atol=1e-9):
        return Feedback(True, "correct: each pair (2i, 2i + 1) of row j turned by positions[j] θ_i, so the score "
                              "of two turned vectors depends on their positions only through the offset")
    if np.allclose(y, x):
        return Feedback(False, "your function returns x unchanged: no row was turned", hints=hints)
    if not np.allclose(np.linalg.norm(y, axis=1), np.linalg.norm(x, axis=1), rtol=1e-6):
        return Feedback(False, "the rows' lengths changed: a rotation keeps every length. Is each pair turned by a "
                               "true rotation (cos and sin of the same angle)?", hints=hints)
    if np.allclose(y, _rope_variant(x, positions, rotate_half=True), atol=1e-9):
        return Feedback(False, "you paired coordinate i with i + d/2 (the 'rotate half' layout): also a rotation, "
                               "but not the pairs of this course and the RoFormer paper: which coordinates make "
                               "pair i?", hints=hints)
    if np.allclose(y, _rope_variant(x, positions, sign=-1.0), atol=1e-9):
        return Feedback(False, "every pair turns the wrong way (by -angle): look at the signs of the sin terms",
                        hints=hints)
    if np.allclose(y, _rope_variant(x, positions, per_column=True), atol=1e-9):
        return Feedback(False, "the frequencies fall too fast: θ_i = 10000^(-2i/d) with d the full width, not d/2",
                        hints=hints)
    if np.allclose(y, _rope_variant(x, np.arange(6)), atol=1e-9):
        return Feedback(False, "you used positions 0, 1, ..., n-1 instead of the `positions` given", hints=hints)
    if np.allclose(y[0], x[0]) and not np.allclose(y[1:], expected[1:], atol=1e-9):
        return Feedback(False, "row 0 (position 0) is right, the later rows are not: check the angle of pair i at "
                               "position p", hints=hints)
    return Feedback(False, "the rows differ from pair (2i, 2i + 1) turned by positions[j] · 10000^(-2i/d)",
                    hints=hints)


EXERCISES = [
    Exercise(checker=check_same_rope_score, reference="attn_course.exercises.positions.SAME_SCORE_AS_2_5",
             chapter="05b_positions", solution="same_score_as_2_5", level="predict",
             mistakes=(Mistake("same_score_as_2_5 = {(0, 3), (5, 2), (7, 10), (30, 33)}", "(5, 2) is in your set"),
                       Mistake("same_score_as_2_5 = {(0, 3)}", "are missing"))),
    Exercise(checker=check_shift_matrix, reference="attn_course.positional.sinusoidal_shift",
             chapter="05b_positions", solution="shift_matrix", level="derive",
             mistakes=(Mistake("import numpy as np\n"
                               "def shift_matrix(delta, d_model):\n"
                               "    a = delta * 10000.0 ** (-np.arange(0, d_model, 2) / d_model)\n"
                               "    return np.diag(np.repeat(np.cos(a), 2))", "your M is diagonal"),)),
    Exercise(checker=check_rope, reference="attn_course.positional.rotary_embedding",
             chapter="05b_positions", solution="rope", level="implement",
             mistakes=(Mistake("def rope(x, positions):\n    return x", "returns x unchanged"),)),
]
