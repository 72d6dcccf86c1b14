"""Chapter 9's checkers on what the registry's typical mistakes do not cover: right answers in other forms and the
reference entropy. The wrong answers students write are in the registry (attn_course/exercises/faq.py) and run by
tests/test_exercise_contract.py."""
import numpy as np
import pytest

from attn_course import scaled_dot_product_attention
from attn_course.exercises import check_attention_entropy, check_four_steps, check_permutation_test
from attn_course.exercises.faq import attention_entropy
from conftest import assert_rejects, reference


# ---------------------------------------------------------------------------------------------------
# Exercise 9.1: the permutation test

def commutes(layer, x, perm):
    return np.allclose(layer(x[perm]), layer(x)[perm])


def commutes_by_index(layer, x, perm):
    y, y_moved = layer(x), layer(x[perm])
    return bool(all(np.allclose(y_moved[i], y[p]) for i, p in enumerate(perm)))


@pytest.mark.parametrize("fn", [commutes, commutes_by_index])
def test_permutation_test_accepts_right_answers(fn):
    feedback = check_permutation_test(fn)
    assert feedback and "recurrence" in feedback.message


def test_permutation_test_with_exact_equality_is_accepted_or_told_to_use_allclose():
    # Whether a permuted input rounds differently depends on the machine's BLAS: either verdict is fair.
    feedback = check_permutation_test(lambda layer, x, perm: np.array_equal(layer(x[perm]), layer(x)[perm]))
    assert feedback or "compare two float arrays" in feedback.message


# ---------------------------------------------------------------------------------------------------
# Exercise 9.2: the four steps

steps_right = reference(check_four_steps)  # the registry's reference answer


def steps_with_package(x, W_q, W_k, W_v):
    return scaled_dot_product_attention(x @ W_q, x @ W_k, x @ W_v)


@pytest.mark.parametrize("fn", [steps_right, steps_with_package])
def test_four_steps_accepts_right_answers(fn):
    feedback = check_four_steps(fn)
    assert feedback and "sqrt(d_k)" in feedback.message


# ---------------------------------------------------------------------------------------------------
# Exercise 9.3: the entropy of each query's weights

def test_attention_entropy_reference():
    assert np.allclose(attention_entropy(np.full((2, 4), 0.25)), np.log(4))
    assert attention_entropy(np.array([[0.0, 1.0, 0.0]]))[0] == 0.0
    assert attention_entropy(np.ones((3, 2, 4, 5)) / 5).shape == (3, 2, 4)


entropy_right = reference(check_attention_entropy)  # the registry's reference answer


def entropy_xlogy(w):
    from scipy.special import xlogy
    return -xlogy(w, w).sum(axis=-1)


@pytest.mark.parametrize("fn", [entropy_right, attention_entropy, entropy_xlogy])
def test_attention_entropy_accepts_right_answers(fn):
    if fn is entropy_xlogy:
        pytest.importorskip("scipy")
    feedback = check_attention_entropy(fn)
    assert feedback and "ln(5)" in feedback.message


def test_attention_entropy_names_a_truncated_answer():
    assert_rejects(check_attention_entropy(lambda w: entropy_right(w)[:2]), "expected shape (n_q,)")
