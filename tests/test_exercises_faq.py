"""The checkers of chapter 9 accept right answers and reject each typical wrong one with the message that names it."""
import numpy as np
import pytest

from attn_course import scaled_dot_product_attention, softmax
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
    assert feedback or "np.allclose" in feedback.message


@pytest.mark.parametrize("fn, fragments", [
    (lambda layer, x, perm: np.allclose(layer(x[perm]), layer(x)), ["SAME", "invariance", "layer(x)[perm]"]),
    (lambda layer, x, perm: np.allclose(layer(x[perm]), layer(x)[np.argsort(perm)]), ["permuted back", "WITH the input"]),
    (lambda layer, x, perm: np.allclose(layer(x[:, perm]), layer(x)[:, perm]), ["IndexError", "ROWS"]),
    (lambda layer, x, perm: np.isclose(layer(x[perm]), layer(x)[perm]), ["one bool", "shape (5, 4)"]),
    (lambda layer, x, perm: True, ["wrong for: recurrent layer"]),
    (lambda layer, x, perm: 1, ["one bool", "int"]),
])
def test_permutation_test_rejects_typical_mistakes(fn, fragments):
    assert_rejects(check_permutation_test(fn), *fragments)


# ---------------------------------------------------------------------------------------------------
# Exercise 9.2: the four steps

steps_right = reference(check_four_steps)  # the registry's reference answer


def steps_with_package(x, W_q, W_k, W_v):
    return scaled_dot_product_attention(x @ W_q, x @ W_k, x @ W_v)


@pytest.mark.parametrize("fn", [steps_right, steps_with_package])
def test_four_steps_accepts_right_answers(fn):
    feedback = check_four_steps(fn)
    assert feedback and "sqrt(d_k)" in feedback.message


def _steps(scores_to_weights=lambda s, d_k, d_model: softmax(s / np.sqrt(d_k)), values=lambda x, W_v: x @ W_v,
           keys=lambda x, W_q, W_k: x @ W_k):
    def fn(x, W_q, W_k, W_v):
        s = (x @ W_q) @ keys(x, W_q, W_k).T
        w = scores_to_weights(s, W_k.shape[1], x.shape[1])
        return w @ values(x, W_v), w
    return fn


def steps_naive_softmax(x, W_q, W_k, W_v):
    s = (x @ W_q) @ (x @ W_k).T / np.sqrt(W_k.shape[1])
    w = np.exp(s) / np.exp(s).sum(axis=-1, keepdims=True)
    return w @ (x @ W_v), w


@pytest.mark.parametrize("fn, fragments", [
    (_steps(lambda s, d_k, d_model: softmax(s)), ["not scaled", "§9.4"]),
    (_steps(lambda s, d_k, d_model: softmax(s / np.sqrt(d_model))), ["sqrt(d_model)"]),
    (_steps(lambda s, d_k, d_model: softmax(softmax(s / np.sqrt(d_k)))), ["twice", "§2.5"]),
    (_steps(lambda s, d_k, d_model: softmax(s / np.sqrt(d_k), axis=0)), ["each column", "axis=-1"]),
    (_steps(lambda s, d_k, d_model: np.exp(s / np.sqrt(d_k))), ["row sums"]),
    (_steps(values=lambda x, W_v: x), ["d_model columns", "VALUES"]),
    (_steps(keys=lambda x, W_q, W_k: x @ W_q), ["same projection"]),
    (lambda x, W_q, W_k, W_v: (softmax(x @ x.T / np.sqrt(x.shape[1])) @ (x @ W_v), softmax(x @ x.T / np.sqrt(x.shape[1]))),
     ["without projections"]),
    (steps_naive_softmax, ["large inputs", "overflow", "largest score"]),
    (lambda x, W_q, W_k, W_v: steps_right(x, W_q, W_k, W_v)[0], ["expected a pair"]),
    (lambda x, W_q, W_k, W_v: (steps_right(x, W_q, W_k, W_v)[0], steps_right(x, W_q, W_k, W_v)[1].T), ["each column"]),
])
def test_four_steps_rejects_typical_mistakes(fn, fragments):
    assert_rejects(check_four_steps(fn), *fragments)


# ---------------------------------------------------------------------------------------------------
# Exercise 9.3: the entropy of each query's attention

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


@pytest.mark.parametrize("fn, fragments", [
    (lambda w: -(w * np.log(w)).sum(axis=-1), ["NaN", "0 * log(0)", "rows [1, 2]"]),
    (lambda w: -entropy_right(w), ["negative"]),
    (lambda w: entropy_right(w) / np.log(2), ["bits"]),
    (lambda w: entropy_right(w) / w.shape[-1], ["mean over the keys"]),
    (lambda w: entropy_right(w.T), ["one value per KEY", "axis=-1"]),
    (lambda w: entropy_right(w).mean(), ["one entropy per query"]),
    (lambda w: np.nan_to_num(-(w * np.log(w + 1e-3)).sum(axis=-1)), ["the entropy is"]),
    (lambda w: -np.sum(np.where(w > 0, w * np.log(np.where(w > 0, w, 1.0)), 0.0), axis=1), ["batch", "axis=-1"]),
    (lambda w: entropy_right(w)[:2], ["expected shape (n_q,)"]),
    (lambda w: "high", ["array of entropies"]),
])
def test_attention_entropy_rejects_typical_mistakes(fn, fragments):
    assert_rejects(check_attention_entropy(fn), *fragments)
