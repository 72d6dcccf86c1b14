"""The checkers of chapter 4 accept right answers and reject each typical wrong one with the message that names it."""
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


@pytest.mark.parametrize("fn, says", [
    (lambda d, a, b: np.sqrt(d) * a * b, "standard deviation"),
    (lambda d, a, b: 0.0, "MEAN"),
    (lambda d, a, b: d * a * b, "VARIANCES"),
    (lambda d, a, b: d, "unit-variance components only"),
    (lambda d, a, b: a ** 2 * b ** 2, "ONE term"),
    (lambda d, a, b: d ** 2 * a ** 2 * b ** 2, "not d_k² times"),
    (lambda d, a, b: d * (a ** 2 + b ** 2), "PRODUCT of their variances"),
    (lambda d, a, b: 1.0, "after dividing by sqrt(d_k)"),
    (lambda d, a, b: d + 7.0, "add their variances"),
    (lambda d, a, b: [d, a, b], "one number"),
    (lambda d, a, b: "d_k", "one number"),
    (lambda d, a, b: 1 / 0, "ZeroDivisionError"),
])
def test_variance_wrong_answers_are_named(fn, says):
    _wrong(check_score_variance(fn), says)


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


def masked_renormalised_after(q, k, v, mask):
    # softmax, zero the masked weights, renormalise: mathematically the same, but a large masked score
    # takes all the weight in the softmax and the allowed keys underflow to 0
    s = q @ k.T / np.sqrt(q.shape[-1])
    w = ac.softmax(s) * mask
    total = w.sum(axis=-1, keepdims=True)
    w = w / np.where(total > 0, total, 1)
    return w @ v, w


def masked_ignored(q, k, v, mask):
    return ac.scaled_dot_product_attention(q, k, v)


def masked_inverted(q, k, v, mask):
    return ac.scaled_dot_product_attention(q, k, v, mask=~mask)


def masked_after_softmax(q, k, v, mask):
    w = ac.softmax(q @ k.T / np.sqrt(q.shape[-1])) * mask
    return w @ v, w


def masked_times_zero(q, k, v, mask):
    w = ac.softmax(q @ k.T / np.sqrt(q.shape[-1]) * mask)
    return w @ v, w


def masked_no_scale(q, k, v, mask):
    return ac.scaled_dot_product_attention(q, k, v, mask=mask, scale=1.0)


def masked_axis0(q, k, v, mask):
    w = ac.softmax(q @ k.T / np.sqrt(q.shape[-1]), axis=0, mask=mask)
    return w @ v, w


def masked_sums_keys(q, k, v, mask):
    _, w = ac.scaled_dot_product_attention(q, k, v, mask=mask)
    return w @ v + 1.0, w


def masked_naive_inf(q, k, v, mask):
    s = np.where(mask, q @ k.T / np.sqrt(q.shape[-1]), -np.inf)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    w = e / e.sum(axis=-1, keepdims=True)
    return w @ v, w


def masked_minus_1e9(q, k, v, mask):
    s = np.where(mask, q @ k.T / np.sqrt(q.shape[-1]), -1e9)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    w = e / e.sum(axis=-1, keepdims=True)
    return w @ v, w


def masked_unstable(q, k, v, mask):
    e = np.exp(q @ k.T / np.sqrt(q.shape[-1])) * mask
    total = e.sum(axis=-1, keepdims=True)
    w = e / np.where(total > 0, total, 1)
    return w @ v, w


def masked_raises_on_empty_rows(q, k, v, mask):
    if not mask.any(axis=-1).all():
        raise ValueError("a query with no key")
    return masked_right(q, k, v, mask)


def masked_weights_only(q, k, v, mask):
    return masked_right(q, k, v, mask)[1]


def masked_transposed_weights(q, k, v, mask):
    out, w = masked_right(q, k, v, mask)
    return out, w.T


@pytest.mark.parametrize("fn", [masked_right, masked_with_package])
def test_masked_right_answers_pass(fn):
    _right(check_masked_attention(fn))


@pytest.mark.parametrize("fn, says", [
    (masked_ignored, "the mask is ignored"),
    (masked_inverted, "the mask is inverted"),
    (masked_after_softmax, "after the softmax"),
    (masked_times_zero, "set to 0"),
    (masked_no_scale, "not scaled"),
    (masked_axis0, "over the queries"),
    (masked_sums_keys, "weighted sum of the values"),
    (masked_naive_inf, "-inf - (-inf) = NaN"),
    (masked_minus_1e9, "uniform weights"),
    (masked_unstable, "exp overflows"),
    (masked_renormalised_after, "underflowed to 0"),
    (masked_raises_on_empty_rows, "may attend to no key"),
    (masked_weights_only, "expected a pair"),
    (masked_transposed_weights, "weights has shape"),
])
def test_masked_wrong_answers_are_named(fn, says):
    _wrong(check_masked_attention(fn), says)


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


def backward_no_softmax(q, k, v, g):
    scale, w, dw = _parts(q, k, v, g)
    return dw @ k * scale, dw.T @ q * scale, w.T @ g


def backward_diagonal(q, k, v, g):
    scale, w, dw = _parts(q, k, v, g)
    ds = w * (1 - w) * dw
    return ds @ k * scale, ds.T @ q * scale, w.T @ g


def backward_sign(q, k, v, g):
    scale, w, dw = _parts(q, k, v, g)
    ds = w * (dw + (w * dw).sum(axis=-1, keepdims=True))
    return ds @ k * scale, ds.T @ q * scale, w.T @ g


def backward_no_scale(q, k, v, g):
    scale, w, dw = _parts(q, k, v, g)
    ds = w * (dw - (w * dw).sum(axis=-1, keepdims=True))
    return ds @ k, ds.T @ q, w.T @ g


def backward_scale_twice(q, k, v, g):
    scale, w, dw = _parts(q, k, v, g)
    ds = w * (dw - (w * dw).sum(axis=-1, keepdims=True)) * scale
    return ds @ k * scale, ds.T @ q * scale, w.T @ g


def backward_dk_untransposed(q, k, v, g):
    scale, w, dw = _parts(q, k, v, g)
    ds = w * (dw - (w * dw).sum(axis=-1, keepdims=True))
    return ds @ k * scale, ds @ q * scale, w.T @ g


def backward_dv_untransposed(q, k, v, g):
    scale, w, dw = _parts(q, k, v, g)
    ds = w * (dw - (w * dw).sum(axis=-1, keepdims=True))
    return ds @ k * scale, ds.T @ q * scale, w @ g


def backward_dq_off(q, k, v, g):
    dq, dk, dv = backward_right(q, k, v, g)
    return dq + 0.1, dk, dv


def backward_nan(q, k, v, g):
    dq, dk, dv = backward_right(q, k, v, g)
    return dq, dk * np.nan, dv


def backward_pair(q, k, v, g):
    return backward_right(q, k, v, g)[:2]


def backward_swapped_shapes(q, k, v, g):
    dq, dk, dv = backward_right(q, k, v, g)
    return dq, dk[:, :1], dv


@pytest.mark.parametrize("fn", [backward_right, backward_with_package, backward_full_jacobian])
def test_backward_right_answers_pass(fn):
    _right(check_attention_backward(fn))


@pytest.mark.parametrize("fn, says", [
    (backward_no_softmax, ["dq wrong, dk wrong, dv right", "softmax was skipped"]),
    (backward_diagonal, ["dq wrong, dk wrong, dv right", "only the diagonal"]),
    (backward_sign, ["dq wrong, dk wrong", "wrong sign"]),
    (backward_no_scale, ["dq wrong, dk wrong, dv right", "1/sqrt(d_k) in the forward pass"]),
    (backward_scale_twice, ["applied twice"]),
    (backward_dk_untransposed, ["dq right, dk wrong, dv right", "ds.T @ q"]),
    (backward_dv_untransposed, ["dq right, dk right, dv wrong", "weights.T @ grad_output"]),
    (backward_dq_off, ["dq wrong, dk right, dv right", "Expected dq = ds @ k"]),
    (backward_nan, ["dk wrong", "NaN"]),
    (backward_pair, ["expected a triple"]),
    (backward_swapped_shapes, ["dk has shape"]),
])
def test_backward_wrong_answers_are_named(fn, says):
    _wrong(check_attention_backward(fn), *says)


def test_backward_missing_transpose_on_rectangular_inputs_explains_shapes():
    # Passes the square case only by luck of shapes; on (3, 5) the matrix product fails inside the learner's code.
    def square_only(q, k, v, g):
        if len(q) == len(k):
            return backward_right(q, k, v, g)
        scale, w, dw = _parts(q, k, v, g)
        return dw @ k, dw @ q, w @ g  # raises: shapes do not match
    _wrong(check_attention_backward(square_only), "n_q = 3, n_k = 5", "is a transpose missing?")
