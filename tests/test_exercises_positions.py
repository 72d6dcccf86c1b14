"""The checkers of chapter 5b (positional information) accept right answers and name each typical wrong one."""
import numpy as np
import pytest

from conftest import assert_accepts, assert_rejects
from attn_course import rotary_embedding
from attn_course.exercises import check_rope, check_same_rope_score, check_shift_matrix, hint, positions
from attn_course.positional import sinusoidal_shift


# --- 5b.1: predict the pairs with the same RoPE score ---------------------------------------------------

def test_same_rope_score():
    assert positions.SAME_SCORE_AS_2_5 == {(0, 3), (7, 10), (30, 33)}
    assert_accepts(check_same_rope_score({(0, 3), (7, 10), (30, 33)}), "n - m = +3")
    assert_accepts(check_same_rope_score([[0, 3], [7, 10], [30, 33]]))


@pytest.mark.parametrize("answer, says", [
    ({(0, 3), (5, 2), (7, 10), (30, 33)}, "(5, 2) is in your set"),
    ({(0, 3), (7, 10), (30, 33), (2, 6)}, "[(2, 6)] give a different score"),
    ({(0, 3), (7, 10)}, "1 candidate(s) with the same score are missing"),
    ({(1, 4)}, "are not among the candidates"),
    (3, "expected a set of (m, n) pairs"),
    ({(1, 2, 3)}, "each entry is one pair"),
    (..., "is not written yet"),
])
def test_same_rope_score_mistakes(answer, says):
    assert_rejects(check_same_rope_score(answer), says)


def test_hints_escalate_to_the_fix():
    wrong = {(0, 3)}
    first = check_same_rope_score(wrong)
    assert first.shown == 0 and len(first.hints) == 3
    assert check_same_rope_score(wrong).shown == 1
    assert "(0, 3), (7, 10), (30, 33)" in hint().hints[-1] and hint().shown == 3


# --- 5b.2: derive the shift matrix ----------------------------------------------------------------------

def _blocks(delta, d, sign=1.0, same_angle=False):
    a = np.full(d // 2, float(delta)) if same_angle else delta * 10000.0 ** (-np.arange(0, d, 2) / d)
    m = np.zeros((d, d))
    for i, ai in enumerate(a):
        m[2 * i:2 * i + 2, 2 * i:2 * i + 2] = [[np.cos(ai), sign * np.sin(ai)], [-sign * np.sin(ai), np.cos(ai)]]
    return m


def test_shift_matrix():
    assert_accepts(check_shift_matrix(sinusoidal_shift), "one rotation")
    assert_accepts(check_shift_matrix(_blocks))


@pytest.mark.parametrize("fn, says", [
    (lambda delta, d: _blocks(delta, d, sign=-1.0), "moves every encoding BACK"),
    (lambda delta, d: _blocks(delta, d, same_angle=True), "the same angle δ"),
    (lambda delta, d: np.diag(np.repeat(np.cos(delta * 10000.0 ** (-np.arange(0, d, 2) / d)), 2)), "is diagonal"),
    (lambda delta, d: np.eye(d + 1), "has shape (9, 9)"),
    (lambda delta, d: np.eye(d), "differs from PE("),
    (lambda delta, d: "M", "expected a (d_model, d_model) array"),
    (lambda delta, d: 1 / 0, "raised ZeroDivisionError"),
])
def test_shift_matrix_mistakes(fn, says):
    assert_rejects(check_shift_matrix(fn), says)


# --- 5b.3: implement RoPE -------------------------------------------------------------------------------

def test_rope():
    assert_accepts(check_rope(rotary_embedding), "turned by positions[j]")
    assert_accepts(check_rope(lambda x, p: positions._rope_variant(x, p)))


@pytest.mark.parametrize("fn, says", [
    (lambda x, p: x, "unchanged"),
    (lambda x, p: 2 * x, "lengths changed"),
    (lambda x, p: positions._rope_variant(x, p, rotate_half=True), "not the pairs of this course"),
    (lambda x, p: positions._rope_variant(x, p, sign=-1.0), "wrong way"),
    (lambda x, p: positions._rope_variant(x, p, per_column=True), "not d/2"),
    (lambda x, p: positions._rope_variant(x, np.arange(len(x))), "instead of the `positions` given"),
    (lambda x, p: positions._rope_variant(x, p * 2), "row 0 (position 0) is right"),
    (lambda x, p: x[:, :4], "has shape (6, 4)"),
])
def test_rope_mistakes(fn, says):
    assert_rejects(check_rope(fn), says)
