"""Chapter 4's checkers on what the registry's typical mistakes do not cover: right answers in other forms,
answers that raise or return the wrong kind of thing, and the references against a simulation and finite
differences. The wrong answers students write are in the registry (attn_course/exercises/mathematics.py)
and run by tests/test_exercise_contract.py."""
import numpy as np
import pytest

import attn_course as ac
from attn_course.exercises import Feedback, check_attention_backward, check_masked_attention, check_score_variance
from conftest import reference


def _wrong(feedback, *says):
    assert isinstance(feedback, Feedback) and not feedback, feedback
    assert repr(feedback).startswith("✘")
    for fragment in says:
        assert fragment in feedback.message, f"{fragment!r} not in {feedback.message!r}"


def _right(feedback):
    assert isinstance(feedback, Feedback) and feedback, feedback
    assert repr(feedback).startswith("✔")


# ---------------------------------------------------------------------------------------------------
# Exercise 4.1: the variance of q·k

def test_variance_right_answers_pass():
    _right(check_score_variance(lambda d_k, s_q, s_k: d_k * s_q ** 2 * s_k ** 2))
    _right(check_score_variance(lambda d_k, s_q, s_k: np.float32(d_k * (s_q * s_k) ** 2)))  # float32 is fine
    _right(check_score_variance(lambda d_k, s_q, s_k: np.array(d_k * (s_q * s_k) ** 2)))    # a 0-d array too


def test_variance_reports_a_raising_answer_and_a_string():
    _wrong(check_score_variance(lambda d, a, b: 1 / 0), "ZeroDivisionError")
    _wrong(check_score_variance(lambda d, a, b: "d_k"), "one number")


def test_variance_reference_matches_a_simulation():
    # The checker's formula is the truth: a Monte Carlo estimate agrees to within a few per cent.
    rng = np.random.default_rng(0)
    d_k, s_q, s_k = 10, 2.0, 3.0
    q, k = s_q * rng.standard_normal((200_000, d_k)), s_k * rng.standard_normal((200_000, d_k))
    from attn_course.exercises.mathematics import score_variance
    assert np.isclose(np.einsum("nd,nd->n", q, k).var(), score_variance(d_k, s_q, s_k), rtol=0.02)


# ---------------------------------------------------------------------------------------------------
# Exercise 4.2: masked attention

masked_right = reference(check_masked_attention)  # the registry's reference answer


def masked_with_package(q, k, v, mask):
    return ac.scaled_dot_product_attention(q, k, v, mask=mask)


def masked_raises_on_empty_rows(q, k, v, mask):
    if not mask.any(axis=-1).all():
        raise ValueError("a query with no key")
    return masked_right(q, k, v, mask)


@pytest.mark.parametrize("fn", [masked_right, masked_with_package])
def test_masked_right_answers_pass(fn):
    _right(check_masked_attention(fn))


def test_masked_reports_an_answer_that_raises_on_a_row_with_no_key():
    _wrong(check_masked_attention(masked_raises_on_empty_rows), "may attend to no key")


def test_masked_reports_a_missing_pair():
    _wrong(check_masked_attention(lambda q, k, v, mask: masked_right(q, k, v, mask)[1]), "expected a pair")


# ---------------------------------------------------------------------------------------------------
# Exercise 4.3: the backward pass of attention

def _parts(q, k, v, g):
    scale = 1 / np.sqrt(q.shape[-1])
    w = ac.softmax(q @ k.T * scale)
    return scale, w, g @ v.T


backward_right = reference(check_attention_backward)  # the registry's reference answer


def backward_with_package(q, k, v, g):
    return ac.scaled_dot_product_attention_backward(q, k, v, g)


def backward_full_jacobian(q, k, v, g):
    scale, w, dw = _parts(q, k, v, g)
    ds = np.stack([(np.diag(row) - np.outer(row, row)) @ d for row, d in zip(w, dw)])
    return ds @ k * scale, ds.T @ q * scale, w.T @ g


def backward_nan(q, k, v, g):
    dq, dk, dv = backward_right(q, k, v, g)
    return dq, dk * np.nan, dv


def backward_pair(q, k, v, g):
    return backward_right(q, k, v, g)[:2]


@pytest.mark.parametrize("fn", [backward_right, backward_with_package, backward_full_jacobian])
def test_backward_right_answers_pass(fn):
    _right(check_attention_backward(fn))


@pytest.mark.parametrize("fn, says", [
    (backward_nan, ["dk wrong", "NaN"]),
    (backward_pair, ["expected a triple"]),
])
def test_backward_wrong_answers_are_named(fn, says):
    _wrong(check_attention_backward(fn), *says)
