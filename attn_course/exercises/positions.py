"""Checkers for the exercises of chapter 5b, positional information.

    check_same_rope_score(pairs)        predict: which (m, n) give the RoPE score of (2, 5)
    check_shift_matrix(fn)              derive: fn(delta, d_model) -> M with PE(pos + delta) = M @ PE(pos)
    check_rope(fn)                      implement: fn(x, positions) -> x with each pair (2i, 2i+1) of row j
                                        turned by positions[j] * 10000^(-2i/d)
    check_rope_scores(fn)               debug: fn(q, k) -> (n, n) scaled scores of q and k turned at 0..n-1
    check_rope_attention(fn)            hard: fn(q, k, v) -> causal multi-head attention with RoPE,
                                        q, k, v (batch, heads, n, d)

The references are the package's attn_course.positional.sinusoidal_shift and rotary_embedding, and
SAME_SCORE_AS_2_5, rope_scores and rope_attention here (built on rotary_embedding and the package's attention).
"""
import numpy as np

from ..attention import scaled_dot_product_attention
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


# ---------------------------------------------------------------------------------------------------
# 5b.4 (debug): scores of turned queries and keys

def rope_scores(q, k):
    """The reference: q, k (n, d) at positions 0..n-1, both turned, scores R_i q_i · R_j k_j / sqrt(d)."""
    return rotary_embedding(q) @ rotary_embedding(k).T / np.sqrt(q.shape[-1])       # (n, n)


def _as_scores(result, shape):
    try:
        s = np.asarray(result, dtype=np.float64)
    except (TypeError, ValueError):
        return None, Feedback(False, f"expected an array of shape {shape}, got {type(result).__name__}")
    if s.shape != shape:
        return None, Feedback(False, f"the scores have shape {s.shape}, expected {shape}: one per (query, key)")
    return s, None


@checker
def check_rope_scores(fn):
    """Check `fn(q, k) -> (n, n)`: q, k (n, d), token i at position i; entry (i, j) is
    R_i q_i · R_j k_j / sqrt(d), R the rotation of attn_course.rotary_embedding."""
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((2, 7, 8))
    expected = rope_scores(q, k)
    result, error = call(fn, q.copy(), k.copy())
    if error is not None:
        return error
    s, error = _as_scores(result, expected.shape)
    if error is not None:
        return error
    hints = ("the score of query i and key j must depend on i and j only through j - i: turn q and k the SAME way",
             "same pairs (2i, 2i + 1), same frequencies, same positions 0..n-1 for q and for k; then divide by sqrt(d)",
             "return ac.rotary_embedding(q) @ ac.rotary_embedding(k).T / np.sqrt(q.shape[-1])")
    if np.allclose(s, expected, atol=1e-9):
        return Feedback(True, "correct: q and k turned alike, so each score depends on the offset j - i, not on "
                              "where the pair stands")
    d = q.shape[-1]
    if np.allclose(s, expected * np.sqrt(d), atol=1e-9):
        return Feedback(False, "the scores are sqrt(d) times too large: look at the scale", hints=hints)
    if np.allclose(s, rotary_embedding(q) @ k.T / np.sqrt(d), atol=1e-9) or \
            np.allclose(s, q @ rotary_embedding(k).T / np.sqrt(d), atol=1e-9):
        return Feedback(False, "only one of q and k is turned: the score then depends on one position, not on the "
                              "offset", hints=hints)
    if np.allclose(s, rotary_embedding(q) @ _rope_variant(k, np.arange(len(k)), rotate_half=True).T / np.sqrt(d),
                   atol=1e-9):
        return Feedback(False, "q and k are turned with different pairings of their coordinates: a query's pair i "
                              "must meet the key's pair i", hints=hints)
    if np.allclose(s, q @ k.T / np.sqrt(d), atol=1e-9):
        return Feedback(False, "the scores ignore the positions: nothing was turned", hints=hints)
    return Feedback(False, "the scores differ from R_i q_i · R_j k_j / sqrt(d): compare one entry, (0, 1)",
                    hints=hints)


# ---------------------------------------------------------------------------------------------------
# 5b.5 (hard): causal multi-head attention with RoPE

def rope_attention(q, k, v):
    """The reference: q, k, v (batch, heads, n, d); q and k turned along the token axis, then causal attention."""
    output, _ = scaled_dot_product_attention(rotary_embedding(q), rotary_embedding(k), v, causal=True)
    return output                                                                  # (batch, heads, n, d_v)


@checker
def check_rope_attention(fn):
    """Check `fn(q, k, v) -> (batch, heads, n, d_v)`: q, k (batch, heads, n, d), v (batch, heads, n, d_v); token t
    at position t in every sequence and head; causal scaled dot-product attention of RoPE-turned q and k."""
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((2, 2, 3, 6, 8))
    v = rng.standard_normal((2, 3, 6, 4))
    expected = rope_attention(q, k, v)
    result, error = call(fn, q.copy(), k.copy(), v.copy())
    if error is not None:
        return error
    try:
        y = np.asarray(result, dtype=np.float64)
    except (TypeError, ValueError):
        return Feedback(False, f"expected an array of shape {expected.shape}, got {type(result).__name__}")
    if y.shape != expected.shape:
        return Feedback(False, f"the output has shape {y.shape}, expected {expected.shape}: (batch, heads, n, d_v)")
    hints = ("three steps: turn q and k by their token's position, score them (scaled), mask the future and "
             "average v",
             "the positions run along the token axis (-2), 0..n-1 in every batch entry and head; v is not turned",
             "output, _ = ac.scaled_dot_product_attention(ac.rotary_embedding(q), ac.rotary_embedding(k), v, "
             "causal=True); rotary_embedding turns along axis -2 whatever the leading axes")
    if np.allclose(y, expected, atol=1e-9):
        return Feedback(True, "correct: turned queries and keys, scores scaled and masked, the values untouched")
    turned_q, turned_k = rotary_embedding(q), rotary_embedding(k)
    if np.allclose(y, scaled_dot_product_attention(turned_q, turned_k, v)[0], atol=1e-9):
        return Feedback(False, "every token reads the tokens after it: where is the causal mask?", hints=hints)
    if np.allclose(y, scaled_dot_product_attention(q, k, v, causal=True)[0], atol=1e-9):
        return Feedback(False, "the output does not depend on the positions: q and k were not turned", hints=hints)
    if np.allclose(y, scaled_dot_product_attention(turned_q, turned_k, rotary_embedding(v), causal=True)[0],
                   atol=1e-9):
        return Feedback(False, "the values were turned too: RoPE acts on the scores, on q and k only", hints=hints)
    if np.allclose(y, scaled_dot_product_attention(turned_q, turned_k, v, causal=True, scale=1.0)[0], atol=1e-9):
        return Feedback(False, "the weights are too peaked: look at the scale of the scores", hints=hints)
    return Feedback(False, "the output differs from causal attention over RoPE-turned q and k: check one head of "
                           "one sequence first", hints=hints)


_ROPE_SCORES = ("import numpy as np\nimport attn_course as ac\n"
                "def rope_scores(q, k):\n"
                "    return {q} @ ({k}).T / np.sqrt(q.shape[-1])")
_HALF = ("np.concatenate([k[:, :4] * np.cos(np.arange(len(k))[:, None] * 10000.0 ** (-np.arange(0, 8, 2) / 8))"
         " - k[:, 4:] * np.sin(np.arange(len(k))[:, None] * 10000.0 ** (-np.arange(0, 8, 2) / 8)),"
         " k[:, :4] * np.sin(np.arange(len(k))[:, None] * 10000.0 ** (-np.arange(0, 8, 2) / 8))"
         " + k[:, 4:] * np.cos(np.arange(len(k))[:, None] * 10000.0 ** (-np.arange(0, 8, 2) / 8))], axis=1)")
_ROPE_ATTENTION = ("import numpy as np\nimport attn_course as ac\n"
                   "def rope_attention(q, k, v):\n"
                   "    return ac.scaled_dot_product_attention({q}, {k}, v, causal={causal})[0]")

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
    Exercise(checker=check_rope_scores, reference="attn_course.exercises.positions.rope_scores",
             chapter="05b_positions", solution="rope_scores", level="debug", points=2,
             mistakes=(Mistake(_ROPE_SCORES.format(q="ac.rotary_embedding(q)", k="k"), "only one of q and k"),
                       Mistake(_ROPE_SCORES.format(q="ac.rotary_embedding(q)", k=_HALF), "different pairings"),
                       Mistake(_ROPE_SCORES.format(q="ac.rotary_embedding(q)", k="ac.rotary_embedding(k)")
                               .replace(" / np.sqrt(q.shape[-1])", ""), "too large"))),
    Exercise(checker=check_rope_attention, reference="attn_course.exercises.positions.rope_attention",
             chapter="05b_positions", solution="rope_attention", level="hard", points=3,
             mistakes=(Mistake(_ROPE_ATTENTION.format(q="ac.rotary_embedding(q)", k="ac.rotary_embedding(k)",
                                                      causal="False"), "where is the causal mask"),
                       Mistake(_ROPE_ATTENTION.format(q="q", k="k", causal="True"), "were not turned"),
                       Mistake(_ROPE_ATTENTION.format(q="ac.rotary_embedding(q)", k="ac.rotary_embedding(k)",
                                                      causal="True").replace(", v,", ", ac.rotary_embedding(v),"),
                               "the values were turned too"))),
]
