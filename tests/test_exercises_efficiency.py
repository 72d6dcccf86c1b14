"""Chapter 8's checkers on what the registry's typical mistakes do not cover: right answers in other forms, answers
that raise or return the wrong thing, and the BlockReader. The wrong answers students write are in the registry
(attn_course/exercises/efficiency.py) and run by tests/test_exercise_contract.py."""
import numpy as np
import pytest

from attn_course.exercises import check_matrix_bytes, check_online_softmax_step, check_query_block
from attn_course.exercises.efficiency import BlockReader, query_block_attention
from conftest import assert_accepts, assert_rejects, reference


# ---------------------------------------------------------------------------------------------------
# Exercise 8.1: bytes of the weights

def test_matrix_bytes_accepts():
    assert_accepts(check_matrix_bytes(lambda n, heads, batch, dtype: batch * heads * n * n * np.dtype(dtype).itemsize))
    assert_accepts(check_matrix_bytes(lambda n, heads, batch, dtype: np.zeros(0, dtype).itemsize * n ** 2 * heads * batch))


def test_matrix_bytes_reports_a_raising_answer():
    assert_rejects(check_matrix_bytes(lambda n, h, b, dt: 1 / 0), "ZeroDivisionError")


# ---------------------------------------------------------------------------------------------------
# Exercise 8.2: one step of the online softmax

step_right = reference(check_online_softmax_step)  # the registry's reference answer


def step_with_package_helper(m, l, acc, s, v):
    # the same step through attn_course.flash.query_block's arithmetic is not exposed per step;
    # a learner may also write it with np.logaddexp-style code:
    m_new = np.maximum(m, np.max(s))
    return float(m_new), l * np.exp(m - m_new) + np.exp(s - m_new).sum(), acc * np.exp(m - m_new) + np.exp(s - m_new) @ v


def step_first_block_nan(m, l, acc, s, v):  # the inverted rescale, written so that the first block gives NaN
    m_new = max(m, s.max())
    alpha = np.exp(m_new - m)
    return m_new, alpha * l + np.exp(s - m_new).sum(), alpha * acc + np.exp(s - m_new) @ v


def test_online_step_accepts():
    assert_accepts(check_online_softmax_step(step_right))
    assert_accepts(check_online_softmax_step(step_with_package_helper))


@pytest.mark.parametrize("fn, fragments", [
    (step_first_block_nan, ["upside down"]),
    (lambda m, l, acc, s, v: (m, l), ["triple"]),
    (lambda m, l, acc, s, v: undefined_name, ["NameError"]),  # noqa: F821
])
def test_online_step_rejects(fn, fragments):
    assert_rejects(check_online_softmax_step(fn), *fragments)


# ---------------------------------------------------------------------------------------------------
# Exercise 8.3: tiled attention for one block of queries

block_right = reference(check_query_block)  # the registry's reference answer: attn_course.flash.query_block


def block_reads_all_at_once(q_block, k, v, block_size):
    return block_right(q_block, k, v, len(k))


def test_query_block_accepts():
    assert_accepts(check_query_block(block_right))
    assert_accepts(check_query_block(lambda q, k, v, b: query_block_attention(q, k, v, b)))


@pytest.mark.parametrize("fn, fragments", [
    (block_reads_all_at_once, ["rows at once", "block_size"]),
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
