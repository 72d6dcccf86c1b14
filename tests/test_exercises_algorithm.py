"""The new checkers of chapter 3 (shapes, additive score) accept right answers and reject each typical wrong one
with the message that names it. (check_attention is tested in test_exercises.py.)"""
import numpy as np
import pytest

from attn_course import additive_score, softmax
from attn_course.exercises import check_additive_score, check_attention_shapes
from conftest import assert_rejects, reference


# ---------------------------------------------------------------------------------------------------
# Exercise 3.1: shapes

def shapes(scores, weights, output):
    return lambda n_q, n_k, d_k, d_v: {"scores": scores(n_q, n_k, d_k, d_v), "weights": weights(n_q, n_k, d_k, d_v),
                                       "output": output(n_q, n_k, d_k, d_v)}


PAIRS = lambda n_q, n_k, d_k, d_v: (n_q, n_k)
OUT = lambda n_q, n_k, d_k, d_v: (n_q, d_v)


def test_shapes_accepts_tuples_lists_and_numpy_shapes():
    for fn in [shapes(PAIRS, PAIRS, OUT),
               shapes(lambda *a: list(PAIRS(*a)), PAIRS, lambda *a: np.zeros(OUT(*a)).shape)]:
        feedback = check_attention_shapes(fn)
        assert feedback and "one mix of the values per query" in feedback.message and repr(feedback).startswith("✔")


def hard_coded(n_q, n_k, d_k, d_v):
    return {"scores": (5, 7), "weights": (5, 7), "output": (5, 8)}


@pytest.mark.parametrize("fn, fragments", [
    (shapes(lambda n_q, n_k, d_k, d_v: (n_k, n_q), PAIRS, OUT), ["scores has one row per QUERY", "(7, 5)"]),
    (shapes(PAIRS, lambda n_q, n_k, d_k, d_v: (n_k, n_q), OUT), ["weights has one row per QUERY"]),
    (shapes(lambda n_q, n_k, d_k, d_v: (n_q, n_k, d_k), PAIRS, OUT), ["ONE number per (query, key) pair", "sums over d_k"]),
    (shapes(PAIRS, lambda n_q, n_k, d_k, d_v: (n_k,), OUT), ["its own distribution", "(5, 7)"]),
    (shapes(PAIRS, PAIRS, lambda n_q, n_k, d_k, d_v: (n_q, d_k)), ["VALUES", "d_v = 8", "not d_k = 16"]),
    (shapes(PAIRS, PAIRS, lambda n_q, n_k, d_k, d_v: (n_k, d_v)), ["one output per QUERY", "(7, 8)"]),
    (shapes(PAIRS, PAIRS, lambda n_q, n_k, d_k, d_v: (n_q, n_k, d_v)), ["key axis disappears"]),
    (shapes(PAIRS, PAIRS, lambda n_q, n_k, d_k, d_v: (d_v,)), ["ONE query"]),
    (shapes(PAIRS, PAIRS, lambda n_q, n_k, d_k, d_v: "n_q by d_v"), ["expected a shape"]),
    (hard_coded, ["n_q=2, n_k=9", "scores has shape (n_q, n_k) = (2, 9)"]),
    (lambda n_q, n_k, d_k, d_v: [(n_q, n_k), (n_q, n_k), (n_q, d_v)], ["expected a dict"]),
    (lambda n_q, n_k, d_k, d_v: {"scores": (n_q, n_k), "weights": (n_q, n_k)}, ["no entry for 'output'"]),
    (lambda n_q, n_k, d_k, d_v: 1 / 0, ["ZeroDivisionError"]),
])
def test_shapes_rejects_typical_mistakes(fn, fragments):
    assert_rejects(check_attention_shapes(fn), *fragments)


# ---------------------------------------------------------------------------------------------------
# Exercise 3.3: the additive score

additive_right = reference(check_additive_score)  # the registry's reference answer


def additive_2d_only(q, k, W_q, W_k, v):
    return np.tanh((q @ W_q)[:, None, :] + (k @ W_k)[None, :, :]) @ v


def additive_no_broadcast(q, k, W_q, W_k, v):
    return np.tanh(q @ W_q + k @ W_k) @ v


def additive_hidden(q, k, W_q, W_k, v):
    return np.tanh((q @ W_q)[:, None, :] + (k @ W_k)[None, :, :])


def additive_separate_tanh(q, k, W_q, W_k, v):
    return (np.tanh(q @ W_q) @ v)[:, None] + (np.tanh(k @ W_k) @ v)[None, :]


def additive_no_tanh(q, k, W_q, W_k, v):
    return ((q @ W_q)[:, None, :] + (k @ W_k)[None, :, :]) @ v


def additive_relu(q, k, W_q, W_k, v):
    return np.maximum((q @ W_q)[:, None, :] + (k @ W_k)[None, :, :], 0) @ v


def additive_weights(q, k, W_q, W_k, v):
    return softmax(additive_right(q, k, W_q, W_k, v))


def additive_transposed(q, k, W_q, W_k, v):
    return additive_2d_only(q, k, W_q, W_k, v).T


def additive_wrong_v(q, k, W_q, W_k, v):
    return np.tanh((q @ W_q)[:, None, :] + (k @ W_k)[None, :, :]) @ v[::-1]


def additive_crashes(q, k, W_q, W_k, v):
    raise KeyError("todo")


def test_additive_accepts_right_answers():
    for fn in [additive_right, additive_score]:
        feedback = check_additive_score(fn)
        assert feedback and "works on batches" in feedback.message and repr(feedback).startswith("✔")
    feedback = check_additive_score(additive_2d_only)
    assert feedback and "Going further" in feedback.message


@pytest.mark.parametrize("fn, fragments", [
    (additive_no_broadcast, ["do not add", "[:, None, :]", "(n_q, n_k, d_a)"]),
    (additive_hidden, ["hidden vectors", "hidden @ v"]),
    (additive_separate_tanh, ["separately", "query no longer matters", "SUM"]),
    (additive_no_tanh, ["tanh is missing", "linear"]),
    (additive_relu, ["ReLU", "tanh"]),
    (additive_weights, ["returned the weights", "softmax comes after"]),
    (additive_transposed, ["shape (5, 3)", "one row per query"]),
    (additive_wrong_v, ["differ from v^T tanh"]),
    (additive_crashes, ["KeyError", "todo"]),
])
def test_additive_rejects_typical_mistakes(fn, fragments):
    assert_rejects(check_additive_score(fn), *fragments)
