"""The checkers of chapter 2 accept right answers and reject each typical wrong one with the message that names it."""
import math

import numpy as np
import pytest

from attn_course import scaled_dot_product_attention, softmax
from attn_course.exercises import check_cross_attention, check_path_lengths, check_soft_lookup
from attn_course.exercises.concepts import KINDS, path_length
from conftest import assert_rejects, reference


# ---------------------------------------------------------------------------------------------------
# Exercise 2.1: soft lookup

lookup_right = reference(check_soft_lookup)  # the registry's reference answer


def lookup_with_package(query, keys, values, temperature):
    w = softmax(keys @ query, temperature=temperature)
    return w @ values, w


def lookup_naive(query, keys, values, temperature):
    w = np.exp(keys @ query / temperature)
    w /= w.sum()
    return w @ values, w


def lookup_no_temperature(query, keys, values, temperature):
    w = softmax(keys @ query)
    return w @ values, w


def lookup_times_temperature(query, keys, values, temperature):
    w = softmax(keys @ query * temperature)
    return w @ values, w


def lookup_sqrt_d(query, keys, values, temperature):
    w = softmax(keys @ query / (temperature * np.sqrt(len(query))))
    return w @ values, w


def lookup_hard(query, keys, values, temperature):
    w = np.zeros(len(keys))
    w[np.argmax(keys @ query)] = 1.0
    return w @ values, w


def lookup_unnormalised(query, keys, values, temperature):
    w = np.exp(keys @ query / temperature)
    return w @ values, w


def lookup_mixes_keys(query, keys, values, temperature):
    w = softmax(keys @ query, temperature=temperature)
    return w @ keys, w


def lookup_row_of_weights(query, keys, values, temperature):
    w = softmax(query[None, :] @ keys.T, temperature=temperature)
    return (w @ values)[0], w


def lookup_output_only(query, keys, values, temperature):
    return lookup_right(query, keys, values, temperature)[0]


def lookup_crashes(query, keys, values, temperature):
    raise NotImplementedError("todo")


@pytest.mark.parametrize("fn", [lookup_right, lookup_with_package])
def test_soft_lookup_accepts_right_answers(fn):
    feedback = check_soft_lookup(fn)
    assert feedback and "hard lookup" in feedback.message and repr(feedback).startswith("✔")


@pytest.mark.parametrize("fn, fragments", [
    (lookup_naive, ["temperature 0.001", "overflow", "subtract the largest score"]),
    (lookup_no_temperature, ["temperature is ignored"]),
    (lookup_times_temperature, ["multiplied by T", "DIVIDE"]),
    (lookup_sqrt_d, ["sqrt(d)", "only scale"]),
    (lookup_hard, ["one-hot", "HARD lookup"]),
    (lookup_unnormalised, ["sum to", "divide the exponentials"]),
    (lookup_mixes_keys, ["output has shape (6,)", "average the keys"]),
    (lookup_row_of_weights, ["weights has shape (1, 5)", "squeeze"]),
    (lookup_output_only, ["expected a pair"]),
    (lookup_crashes, ["`lookup_crashes` is not written yet", "raise NotImplementedError"]),
])
def test_soft_lookup_rejects_typical_mistakes(fn, fragments):
    assert_rejects(check_soft_lookup(fn), *fragments)


# ---------------------------------------------------------------------------------------------------
# Exercise 2.2: cross-attention with the roles right

cross_right = reference(check_cross_attention)  # the registry's reference answer


def cross_by_hand(dec, enc, W_q, W_k, W_v):
    q, k, v = dec @ W_q, enc @ W_k, enc @ W_v
    w = softmax(q @ k.T / np.sqrt(k.shape[1]))
    return w @ v, w


def cross_swapped(dec, enc, W_q, W_k, W_v):  # the source's roles (§2.4, §4.3.1)
    return scaled_dot_product_attention(enc @ W_q, dec @ W_k, dec @ W_v)


def cross_encoder_self(dec, enc, W_q, W_k, W_v):
    return scaled_dot_product_attention(enc @ W_q, enc @ W_k, enc @ W_v)


def cross_decoder_self(dec, enc, W_q, W_k, W_v):
    return scaled_dot_product_attention(dec @ W_q, dec @ W_k, dec @ W_v)


def cross_values_from_decoder(dec, enc, W_q, W_k, W_v):
    return scaled_dot_product_attention(dec @ W_q, enc @ W_k, dec @ W_v)


def cross_values_are_keys(dec, enc, W_q, W_k, W_v):
    return scaled_dot_product_attention(dec @ W_q, enc @ W_k, enc @ W_k)


def cross_values_unprojected(dec, enc, W_q, W_k, W_v):
    return scaled_dot_product_attention(dec @ W_q, enc @ W_k, enc)


def cross_unscaled(dec, enc, W_q, W_k, W_v):
    q, k, v = dec @ W_q, enc @ W_k, enc @ W_v
    w = softmax(q @ k.T)
    return w @ v, w


def cross_projections_swapped(dec, enc, W_q, W_k, W_v):
    return scaled_dot_product_attention(dec @ W_k, enc @ W_q, enc @ W_v)


def cross_one_projection(dec, enc, W_q, W_k, W_v):
    return scaled_dot_product_attention(dec @ W_q, enc @ W_q, enc @ W_v)


def cross_unprojected(dec, enc, W_q, W_k, W_v):
    return scaled_dot_product_attention(dec, enc, enc @ W_v)


def cross_wrong_axis(dec, enc, W_q, W_k, W_v):
    q, k, v = dec @ W_q, enc @ W_k, enc @ W_v
    w = softmax(q @ k.T / np.sqrt(k.shape[1]), axis=0)
    return w @ v, w


def cross_output_only(dec, enc, W_q, W_k, W_v):
    return cross_right(dec, enc, W_q, W_k, W_v)[0]


def cross_not_written(dec, enc, W_q, W_k, W_v):
    raise NotImplementedError("todo")


@pytest.mark.parametrize("fn", [cross_right, cross_by_hand])
def test_cross_attention_accepts_right_answers(fn):
    feedback = check_cross_attention(fn)
    assert feedback and "weights (4, 6)" in feedback.message


@pytest.mark.parametrize("fn, fragments", [
    (cross_swapped, ["(6, 4) = (n_src, n_tgt)", "roles are swapped", "decoder asks"]),
    (cross_encoder_self, ["(6, 6) = (n_src, n_src)", "self-attention of the encoder"]),
    (cross_decoder_self, ["(4, 4) = (n_tgt, n_tgt)", "decoder attends to itself"]),
    (cross_values_from_decoder, ["raised ValueError", "must both come from the encoder"]),
    (cross_values_are_keys, ["output has shape (4, 4)", "keys were averaged"]),
    (cross_values_unprojected, ["output has shape (4, 8)", "not projected"]),
    (cross_unscaled, ["not scaled", "sqrt(d_k) = 2"]),
    (cross_projections_swapped, ["W_q and W_k are swapped"]),
    (cross_one_projection, ["same projection"]),
    (cross_unprojected, ["without their projections"]),
    (cross_wrong_axis, ["each column of weights sums to 1", "ROW"]),
    (cross_output_only, ["expected a pair"]),
])
def test_cross_attention_rejects_typical_mistakes(fn, fragments):
    assert_rejects(check_cross_attention(fn), *fragments)


def test_cross_attention_reports_other_errors_without_a_roles_hint():
    feedback = check_cross_attention(cross_not_written)
    assert_rejects(feedback, "NotImplementedError")
    assert "encoder" not in feedback.message


# ---------------------------------------------------------------------------------------------------
# Exercise 2.3: path lengths

paths_right = reference(check_path_lengths)  # the registry's reference answer


def paths_as_table1(kind, n, k):  # orders of growth taken as counts
    return {"recurrent": n, "convolution": math.ceil(n / k), "self-attention": 1}[kind]


def paths_with(**wrong):
    def fn(kind, n, k):
        return wrong[kind](n, k) if kind in wrong else paths_right(kind, n, k)
    return fn


@pytest.mark.parametrize("fn", [paths_right, path_length,
                                paths_with(convolution=lambda n, k: float(math.ceil((n - 1) / ((k - 1) / 2))))])
def test_path_lengths_accepts_right_answers(fn):
    feedback = check_path_lengths(fn)
    assert feedback and "ceil" in feedback.message


@pytest.mark.parametrize("fn, fragments", [
    (paths_with(recurrent=lambda n, k: n - 1), ["recurrent:", "off by one"]),
    (paths_with(recurrent=lambda n, k: 1), ["recurrent:", "one layer", "n applications"]),
    (paths_with(recurrent=lambda n, k: 2 * n), ["recurrent:", "once per position"]),
    (paths_with(convolution=lambda n, k: n - 1), ["convolution:", "depend on the width k"]),
    (paths_with(convolution=lambda n, k: math.ceil((n - 1) / (k - 1))), ["convolution:", "CAUSAL"]),
    (paths_with(convolution=lambda n, k: (n - 1) // ((k - 1) // 2)), ["convolution:", "round up"]),
    (paths_as_table1, ["convolution:", "order of growth"]),
    (paths_with(convolution=lambda n, k: math.ceil(math.log(n, k))), ["convolution:", "DILATED"]),
    (paths_with(convolution=lambda n, k: (n - 1) / ((k - 1) / 2) + 0.5), ["convolution:", "whole number"]),
    (paths_with(convolution=lambda n, k: 3 * n), ["convolution:", "smallest L"]),
    (paths_with(**{"self-attention": lambda n, k: n}), ["self-attention:", "every pair"]),
    (paths_with(**{"self-attention": lambda n, k: math.ceil(math.log2(n))}), ["self-attention:", "1 layer"]),
    (paths_with(recurrent=lambda n, k: None), ["recurrent:", "return a number"]),
    (paths_with(recurrent=lambda n, k: 1 / 0), ["recurrent, n = 2, k = 3", "ZeroDivisionError"]),
])
def test_path_lengths_rejects_typical_mistakes(fn, fragments):
    assert_rejects(check_path_lengths(fn), *fragments)


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
