"""Chapter 2's checkers on what the registry's typical mistakes do not cover: right answers in other forms,
learner code that raises, and the reference path lengths against a simulation. The wrong answers students
write are in the registry (attn_course/exercises/concepts.py) and run by tests/test_exercise_contract.py."""

import numpy as np
import pytest

from attn_course import scaled_dot_product_attention, softmax
from attn_course.exercises import check_cross_attention, check_path_lengths, check_soft_lookup
from attn_course.exercises.concepts import KINDS, path_length
from conftest import assert_accepts, assert_rejects, reference


def lookup_with_package(query, keys, values, temperature):
    w = softmax(keys @ query, temperature=temperature)
    return w @ values, w


@pytest.mark.parametrize("fn", [reference(check_soft_lookup), lookup_with_package])
def test_soft_lookup_accepts_right_answers(fn):
    assert_accepts(check_soft_lookup(fn), "hard lookup")


def test_soft_lookup_says_a_stub_raising_not_implemented_is_not_written():
    def lookup_crashes(query, keys, values, temperature):
        raise NotImplementedError("todo")
    assert_rejects(check_soft_lookup(lookup_crashes), "`lookup_crashes` is not written yet")


def cross_by_hand(dec, enc, W_q, W_k, W_v):
    q, k, v = dec @ W_q, enc @ W_k, enc @ W_v
    w = softmax(q @ k.T / np.sqrt(k.shape[1]))
    return w @ v, w


@pytest.mark.parametrize("fn", [reference(check_cross_attention), cross_by_hand])
def test_cross_attention_accepts_right_answers(fn):
    assert_accepts(check_cross_attention(fn), "weights (4, 6)")


def test_cross_attention_reports_other_errors_without_a_roles_hint():
    def cross_not_written(dec, enc, W_q, W_k, W_v):
        raise NotImplementedError("todo")
    feedback = check_cross_attention(cross_not_written)
    assert_rejects(feedback, "NotImplementedError")
    assert "encoder" not in feedback.message


@pytest.mark.parametrize("fn", [path_length, lambda kind, n, k: float(path_length(kind, n, k))])
def test_path_lengths_accepts_right_answers(fn):
    assert_accepts(check_path_lengths(fn), "ceil")


def test_path_lengths_reports_a_raising_answer_with_its_case():
    feedback = check_path_lengths(lambda kind, n, k: 1 / 0)
    assert_rejects(feedback, "recurrent, n = 2, k = 3", "ZeroDivisionError")
    assert feedback.hints


def test_reference_path_lengths_match_a_simulation():
    """path_length is what perturbing input 0 and stacking real layers measures."""
    rng = np.random.default_rng(0)
    d = 3
    for n, k in [(2, 3), (7, 3), (9, 5), (12, 7)]:
        x = rng.standard_normal((n, d))
        x2 = x.copy()
        x2[0] += 1.0
        # recurrent: h_{n-1} exists (and depends on x_0) after n applications of the cell
        W_x, W_h = rng.standard_normal((2, d, d))
        h, h2, steps = np.zeros(d), np.zeros(d), 0
        for t in range(n):
            h, h2 = np.tanh(x[t] @ W_x + h @ W_h), np.tanh(x2[t] @ W_x + h2 @ W_h)
            steps += 1
        assert steps == path_length("recurrent", n) and not np.allclose(h, h2)
        # convolution: centred, width k, zero padding; count layers until output n - 1 changes
        W = rng.standard_normal((k, d, d))
        r = (k - 1) // 2

        def conv(z):
            p = np.pad(z, ((r, r), (0, 0)))
            return np.tanh(sum(p[i:i + n] @ W[i] for i in range(k)))

        a, b, layers = x, x2, 0
        while np.allclose(a[-1], b[-1]):
            a, b, layers = conv(a), conv(b), layers + 1
        assert layers == path_length("convolution", n, k)
        # self-attention: one layer
        out, _ = scaled_dot_product_attention(x, x, x)
        out2, _ = scaled_dot_product_attention(x2, x2, x2)
        assert not np.allclose(out[-1], out2[-1]) and path_length("self-attention", n) == 1


def test_path_length_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="kind must be one of"):
        path_length("transformer", 4)
    assert set(KINDS) == {"recurrent", "convolution", "self-attention"}
