"""Chapter 8b's checkers on what the registry's typical mistakes do not cover: right answers in other forms,
answers that raise, and wrong Triton kernels (compiled from one parametrised kernel). The wrong flop counts and
grids students write are in the registry (attn_course/exercises/gpu.py), run by tests/test_exercise_contract.py.

The Triton kernels below run in Triton's interpreter when there is no GPU: TRITON_INTERPRET=1 is set
before triton is first imported (see tests/test_triton_attention.py). Without Triton or PyTorch the
softmax-kernel tests are skipped, saying why; the others need neither.
"""
import math

import pytest

from attn_course.exercises import check_attention_flops, check_launch_grid, check_softmax_kernel
from conftest import assert_accepts, assert_rejects, torch_and_triton, reference


# ---------------------------------------------------------------------------------------------------
# Exercise 8b.1: flops

def test_flops_accepts_the_formula_and_the_exact_causal_count():
    assert_accepts(check_attention_flops(reference(check_attention_flops)))  # causal keyword-only
    assert_accepts(check_attention_flops(lambda b, h, n, d, causal: 4 * b * h * n * n * d // (2 if causal else 1)))
    assert_accepts(check_attention_flops(lambda b, h, n, d, causal: 4 * b * h * n * n * d / (2 if causal else 1)))
    assert_accepts(check_attention_flops(
        lambda b, h, n, d, causal: 2 * b * h * n * (n + 1) * d if causal else 4 * b * h * n * n * d))


def test_flops_reports_a_raising_answer():
    assert_rejects(check_attention_flops(lambda b, h, n, d, causal: 1 / 0), "raised ZeroDivisionError")


# ---------------------------------------------------------------------------------------------------
# Exercise 8b.2: the launch grid

def test_grid_accepts():
    assert_accepts(check_launch_grid(reference(check_launch_grid)))
    assert_accepts(check_launch_grid(lambda b, h, n, m: [math.ceil(n / m), b * h]))


# ---------------------------------------------------------------------------------------------------
# Exercise 8b.3: a softmax kernel in Triton

torch, triton, tl = torch_and_triton()
needs_triton = pytest.mark.skipif(triton is None, reason="needs PyTorch and Triton (Triton has wheels for Linux only)")

if triton is not None:
    @triton.jit
    def softmax_kernel(X, Y, stride, n_cols, BLOCK: tl.constexpr, PAD: tl.constexpr, SHIFT: tl.constexpr,
                       ROW_OF_PROGRAM: tl.constexpr):
        row = tl.program_id(0) if ROW_OF_PROGRAM else 0
        cols = tl.arange(0, BLOCK)
        x = tl.load(X + row * stride + cols, mask=cols < n_cols, other=PAD)
        if SHIFT:
            x = x - tl.max(x, axis=0)
        e = tl.exp(x)
        tl.store(Y + row * stride + cols, e / tl.sum(e, axis=0), mask=cols < n_cols)

    def launcher(pad=float("-inf"), shift=True, block=None, row_of_program=True, columns=False):
        def softmax(x):
            x = x.t().contiguous() if columns else x
            y = torch.empty_like(x)
            n_rows, n_cols = x.shape
            softmax_kernel[(n_rows,)](x, y, x.stride(0), n_cols, BLOCK=block or triton.next_power_of_2(n_cols),
                                      PAD=pad, SHIFT=shift, ROW_OF_PROGRAM=row_of_program)
            return y.t() if columns else y
        return softmax


@needs_triton
def test_softmax_kernel_accepts():
    assert_accepts(check_softmax_kernel(reference(check_softmax_kernel)))


@needs_triton
@pytest.mark.parametrize("kwargs, fragments", [
    (dict(pad=0.0), ["padding columns"]),
    (dict(shift=False), ["large", "NaN or inf"]),
    (dict(block=32), ["only the first 32 of the 50 columns"]),
    (dict(row_of_program=False), ["first row is right"]),
    (dict(columns=True), ["but the columns do"]),
    (dict(block=48), ["power of 2", "look at BLOCK"]),
], ids=["zero-padding", "no-max", "short-block", "one-row", "columns", "not-power-of-two"])
def test_softmax_kernel_rejects(kwargs, fragments):
    feedback = check_softmax_kernel(launcher(**kwargs))
    assert_rejects(feedback, *fragments)
    assert feedback.hints and feedback.hints[-1] != feedback.message


@needs_triton
def test_softmax_kernel_rejects_non_tensors_and_shapes():
    assert_rejects(check_softmax_kernel(lambda x: x.numpy()), "torch.Tensor")
    assert_rejects(check_softmax_kernel(lambda x: torch.softmax(x, 1)[:1]), "shape")
