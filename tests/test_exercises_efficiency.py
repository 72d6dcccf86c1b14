"""The checkers of chapter 8 accept right answers and name each typical mistake."""
import numpy as np
import pytest

from attn_course.exercises import check_matrix_bytes, check_online_softmax_step, check_query_block
from attn_course.exercises.efficiency import BlockReader, online_softmax_step, query_block_attention
from conftest import assert_accepts, assert_rejects, reference


# ---------------------------------------------------------------------------------------------------
# Exercise 8.1: bytes of the weights

def test_matrix_bytes_accepts():
    assert_accepts(check_matrix_bytes(lambda n, heads, batch, dtype: batch * heads * n * n * np.dtype(dtype).itemsize))
    assert_accepts(check_matrix_bytes(lambda n, heads, batch, dtype: np.zeros(0, dtype).itemsize * n ** 2 * heads * batch))


@pytest.mark.parametrize("fn, fragments", [
    (lambda n, h, b, dt: b * h * n * n * np.dtype(dt).itemsize / 2**20, ["MiB", "return bytes"]),
    (lambda n, h, b, dt: 8 * b * h * n * n * np.dtype(dt).itemsize, ["bits"]),
    (lambda n, h, b, dt: b * h * n * n, ["number of weights", "itemsize"]),
    (lambda n, h, b, dt: b * h * n * np.dtype(dt).itemsize, ["linearly in n", "n * n"]),
    (lambda n, h, b, dt: n * n * np.dtype(dt).itemsize, ["heads * batch"]),
    (lambda n, h, b, dt: b * n * n * np.dtype(dt).itemsize, ["heads"]),
    (lambda n, h, b, dt: h * n * n * np.dtype(dt).itemsize, ["multiply by batch"]),
    (lambda n, h, b, dt: b * h * n * n * 4, ["bytes per number are wrong", "float64 takes 8 bytes"]),
    (lambda n, h, b, dt: b * h * n * n * 3 + 1, ["expected"]),
    (lambda n, h, b, dt: "a lot", ["return a number of bytes"]),
    (lambda n, h, b, dt: 1 / 0, ["ZeroDivisionError"]),
])
def test_matrix_bytes_rejects(fn, fragments):
    assert_rejects(check_matrix_bytes(fn), *fragments)


# ---------------------------------------------------------------------------------------------------
# Exercise 8.2: one step of the online softmax

step_right = reference(check_online_softmax_step)  # the registry's reference answer


def step_with_package_helper(m, l, acc, s, v):
    # the same step through attn_course.flash.query_block's arithmetic is not exposed per step;
    # a learner may also write it with np.logaddexp-style code:
    m_new = np.maximum(m, np.max(s))
    return float(m_new), l * np.exp(m - m_new) + np.exp(s - m_new).sum(), acc * np.exp(m - m_new) + np.exp(s - m_new) @ v


def step_variant(**flags):
    return lambda m, l, acc, s, v: online_softmax_step(m, l, acc, s, v, **flags)


def step_no_max(m, l, acc, s, v):  # exponentiates the raw scores: right for small ones, overflows for large
    return max(m, s.max()), l + np.exp(s).sum(), acc + np.exp(s) @ v


def step_first_block_nan(m, l, acc, s, v):
    m_new = max(m, s.max())
    alpha = np.exp(m_new - m)
    return m_new, alpha * l + np.exp(s - m_new).sum(), alpha * acc + np.exp(s - m_new) @ v


def test_online_step_accepts():
    assert_accepts(check_online_softmax_step(step_right))
    assert_accepts(check_online_softmax_step(step_with_package_helper))
    assert_accepts(check_online_softmax_step(step_variant()))


@pytest.mark.parametrize("fn, fragments", [
    (step_variant(rescale_l=False, rescale_acc=False), ["not rescaled", "exp(m - m_new)"]),
    (step_variant(rescale_acc=False), ["acc is not"]),
    (step_variant(rescale_l=False), ["l is not"]),
    (step_variant(inverted=True), ["upside down"]),
    (step_first_block_nan, ["upside down"]),
    (step_variant(keep_old_max=False), ["max(m, max(s))", "SO FAR"]),
    (step_variant(normalise=True), ["unnormalised", "after the last block"]),
    (step_no_max, ["exp(s - m_new)"]),
    (lambda m, l, acc, s, v: (max(m, s.max()), 1.0, acc), ["l_new"]),
    (lambda m, l, acc, s, v: step_right(m, l, acc, s, v)[:2] + (np.zeros(7),), ["shape", "(d_v,)"]),
    (lambda m, l, acc, s, v: step_right(m, l, acc, s, v)[:2] + (step_right(m, l, acc, s, v)[2] + 1,), ["acc_new ="]),
    (lambda m, l, acc, s, v: (m, l), ["triple"]),
    (lambda m, l, acc, s, v: undefined_name, ["NameError"]),  # noqa: F821
])
def test_online_step_rejects(fn, fragments):
    assert_rejects(check_online_softmax_step(fn), *fragments)


# ---------------------------------------------------------------------------------------------------
# Exercise 8.3: tiled attention for one block of queries

block_right = reference(check_query_block)  # the registry's reference answer: attn_course.flash.query_block


def block_variant(**flags):
    return lambda q, k, v, b: query_block_attention(q, k, v, b, **flags)


def block_whole(q_block, k, v, block_size):  # plain attention: uses k whole
    s = q_block @ k.T / np.sqrt(q_block.shape[1])
    w = np.exp(s - s.max(axis=1, keepdims=True))
    return w / w.sum(axis=1, keepdims=True) @ np.asarray(v)


def block_reads_all_at_once(q_block, k, v, block_size):
    return block_right(q_block, k, v, len(k))


def block_drops_tail(q_block, k, v, block_size):
    n = len(k) // block_size * block_size
    m = np.full((len(q_block), 1), -np.inf)
    l, acc = np.zeros((len(q_block), 1)), np.zeros((len(q_block), v.shape[1]))
    for j in range(0, n, block_size):
        s = q_block @ k[j:j + block_size].T / np.sqrt(q_block.shape[1])
        m_new = np.maximum(m, s.max(axis=1, keepdims=True))
        p = np.exp(s - m_new)
        l = np.exp(m - m_new) * l + p.sum(axis=1, keepdims=True)
        acc = np.exp(m - m_new) * acc + p @ v[j:j + block_size]
        m = m_new
    return acc / l


def block_no_max(q_block, k, v, block_size):
    l, acc = 0.0, 0.0
    for j in range(0, len(k), block_size):
        p = np.exp(q_block @ k[j:j + block_size].T / np.sqrt(q_block.shape[1]))
        l = l + p.sum(axis=1, keepdims=True)
        acc = acc + p @ v[j:j + block_size]
    return acc / l


def test_query_block_accepts():
    assert_accepts(check_query_block(block_right))
    assert_accepts(check_query_block(block_variant()))


@pytest.mark.parametrize("fn, fragments", [
    (block_variant(rescale=False), ["not rescaled", "exp(m - m_new)"]),
    (block_variant(divide=False), ["divide by l"]),
    (block_variant(scale=1.0), ["not scaled", "sqrt(d)"]),
    (block_variant(rescale=False, divide=False), ["neither rescaled", "nor divided"]),
    (block_whole, ["may not be used whole", "k[j:j + block_size]"]),
    (block_reads_all_at_once, ["rows at once", "block_size"]),
    (block_drops_tail, ["were read", "shorter"]),
    (block_no_max, ["thousands", "m_new"]),
    (lambda q, k, v, b: block_right(q, k, v, b)[:, :1], ["shape", "(b_q, d_v)"]),
    (lambda q, k, v, b: block_right(q, k, v, b) + 0.01, ["differs", "up to 0.01"]),
])
def test_query_block_rejects(fn, fragments):
    assert_rejects(check_query_block(fn), *fragments)


def test_block_reader():
    x = np.arange(12.0).reshape(6, 2)
    r = BlockReader(x, 2, "k")
    assert len(r) == 6 and r.shape == (6, 2)
    np.testing.assert_array_equal(r[2:4], x[2:4])
    np.testing.assert_array_equal(r[4:10], x[4:])  # a last, shorter block
    np.testing.assert_array_equal(r[1], x[1])
    np.testing.assert_array_equal(r[0:2, :1], x[0:2, :1])
    np.testing.assert_array_equal(r[..., 3:5, :], x[3:5])  # as attn_course.flash slices batches
    assert r.rows_read == 9
    with pytest.raises(IndexError, match="asked for 3 rows at once"):
        r[0:3]
    for use in (lambda: r.T, lambda: np.asarray(r), lambda: np.ones((1, 2)) @ r, lambda: list(r)):
        with pytest.raises(TypeError, match="may not be used whole"):
            use()
