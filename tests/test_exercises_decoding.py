"""The checkers of chapter 6e (decoding with a KV cache) accept right answers and name each typical wrong one."""
import numpy as np
import pytest

from conftest import assert_accepts, assert_rejects
from attn_course import causal_mask, scaled_dot_product_attention
from attn_course.exercises import (check_attention_flops_total, check_decode_step, check_doubling, decoding,
                                   hint)


# --- 6e.1: predict ---------------------------------------------------------------------------------------

def test_doubling():
    assert_accepts(check_doubling({"cache_bytes": 2, "cached_step_flops": 2, "uncached_step_flops": 4}), "linearly")
    assert_accepts(check_doubling({"cache_bytes": 2.0, "cached_step_flops": 2, "uncached_step_flops": 4.0}))


@pytest.mark.parametrize("answer, says", [
    ({"cache_bytes": 4, "cached_step_flops": 2, "uncached_step_flops": 4}, "the cache's memory"),
    ({"cache_bytes": 2, "cached_step_flops": 4, "uncached_step_flops": 4}, "a step WITH the cache"),
    ({"cache_bytes": 2, "cached_step_flops": 2, "uncached_step_flops": 2}, "a step WITHOUT the cache"),
    ({"cache_bytes": 2, "cached_step_flops": "two", "uncached_step_flops": 4}, "must be a number"),
    ({"cache_bytes": 2}, "expected a dict with the keys"),
    (..., "is not written yet"),
])
def test_doubling_mistakes(answer, says):
    assert_rejects(check_doubling(answer), says)


def test_doubling_hints_escalate():
    wrong = {"cache_bytes": 2, "cached_step_flops": 4, "uncached_step_flops": 4}
    assert check_doubling(wrong).shown == 0
    assert check_doubling(wrong).shown == 1
    assert "factor 4" in hint().hints[-1]


# --- 6e.2: derive ----------------------------------------------------------------------------------------

def closed_form(n, d, cached):
    return 2 * d * n * (n + 1) if cached else 4 * d * n * (n + 1) * (2 * n + 1) // 6


def test_attention_flops_total():
    assert_accepts(check_attention_flops_total(decoding.attention_flops_total), "cubic")
    assert_accepts(check_attention_flops_total(closed_form))


@pytest.mark.parametrize("fn, says", [
    (lambda n, d, cached: closed_form(n, d, cached) // 2, "half"),
    (lambda n, d, cached: closed_form(n, d, cached) // 4, "a quarter"),
    (lambda n, d, cached: closed_form(n, d, not cached), "that is the count for cached="),
    (lambda n, d, cached: closed_form(n - 1, d, cached), "off by one step"),
    (lambda n, d, cached: 4 * n * n * d, "expected"),
    (lambda n, d, cached: "many", "expected a number of FLOPs"),
    (lambda n, d, cached: [][0], "raised IndexError"),
])
def test_attention_flops_total_mistakes(fn, says):
    assert_rejects(check_attention_flops_total(fn), says)


# --- 6e.3: implement -------------------------------------------------------------------------------------

def test_decode_step():
    assert_accepts(check_decode_step(decoding.decode_step), "appended")


def prepend(cache_k, cache_v, q, k, v):
    cache_k, cache_v = np.concatenate([k, cache_k]), np.concatenate([v, cache_v])
    return scaled_dot_product_attention(q, cache_k, cache_v)[0], cache_k, cache_v


def old_keys_only(cache_k, cache_v, q, k, v):
    return scaled_dot_product_attention(q, cache_k, cache_v)[0], np.concatenate([cache_k, k]), np.concatenate([cache_v, v])


def top_left_causal(cache_k, cache_v, q, k, v):
    cache_k, cache_v = np.concatenate([cache_k, k]), np.concatenate([cache_v, v])
    mask = np.tril(np.ones((1, len(cache_k)), dtype=bool))            # PyTorch's is_causal: query 0 sees key 0
    return scaled_dot_product_attention(q, cache_k, cache_v, mask=mask)[0], cache_k, cache_v


def own_only(cache_k, cache_v, q, k, v):
    return v, np.concatenate([cache_k, k]), np.concatenate([cache_v, v])


def no_update(cache_k, cache_v, q, k, v):
    return decoding.decode_step(cache_k, cache_v, q, k, v)[0], cache_k, cache_v


def bottom_right_causal(cache_k, cache_v, q, k, v):
    cache_k, cache_v = np.concatenate([cache_k, k]), np.concatenate([cache_v, v])
    return scaled_dot_product_attention(q, cache_k, cache_v, mask=causal_mask(1, len(cache_k)))[0], cache_k, cache_v


@pytest.mark.parametrize("fn, says", [
    (prepend, "FRONT of the cache"),
    (old_keys_only, "ignores the new token's own key"),
    (top_left_causal, "aligned to the top left"),
    (own_only, "the new value alone"),
    (no_update, "one row more than before"),
    (lambda ck, cv, q, k, v: (q, ck, cv), "one row more than before"),
    (lambda ck, cv, q, k, v: q, "return three things"),
])
def test_decode_step_mistakes(fn, says):
    assert_rejects(check_decode_step(fn), says)


def test_decode_step_with_the_right_causal_mask_isassert_accepts():
    assert_accepts(check_decode_step(bottom_right_causal))
