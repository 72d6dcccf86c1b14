"""Checkers for the exercises of chapter 8b (attention on the GPU: a FlashAttention kernel in Triton).

    check_attention_flops(fn)   fn(batch, heads, n, d, causal) -> the flops of attention's two matrix products
    check_launch_grid(fn)       fn(batch, heads, n_q, block_m) -> the kernel's launch grid, a pair of ints
    check_softmax_kernel(fn)    fn(x) -> the row-wise softmax of a 2-D torch tensor, computed by the
                                learner's own Triton kernel (in Triton's interpreter when there is no GPU)

The references of the first two are the package's own, attn_course.triton_attention.attention_flops and
launch_grid; the third's is `softmax` below. Every checker imports torch and Triton only when it is called,
so importing attn_course.exercises never imports Triton (which must see TRITON_INTERPRET before its first
import: chapter 8b sets it first).
"""
import functools
import math

import numpy as np

from ..softmax import softmax as numpy_softmax
from .feedback import Feedback, call
from .registry import Exercise


def _number(x):
    """x as a float when it is a real number (int, float, NumPy scalar), else None."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating)):
        return None
    return float(x)


# ---------------------------------------------------------------------------------------------------
# Exercise 8b.1: how many floating-point operations does attention take?

# (batch, heads, n, d): on the first case no two mistakes give the same number (1/2, 1/4, 1/batch = 1/3,
# 1/heads = 1/16, d/n = 1/8 are all different), so the first failure is diagnosed unambiguously
_FLOP_CASES = [(3, 16, 1024, 128), (2, 5, 500, 64), (1, 32, 4096, 64)]


def check_attention_flops(fn):
    """Check `fn(batch, heads, n, d, causal) -> number`: the floating-point operations of attention's two
    matrix products, q @ k^T and p @ v, for q, k, v of shape (batch, heads, n, d). causal is passed by
    name, so that both the chapter's fn(batch, heads, n, d, causal) and a keyword-only causal work."""
    from ..triton_attention import attention_flops

    for causal in (False, True):
        for b, h, n, d in _FLOP_CASES:
            answer, error = call(fn, b, h, n, d, causal=causal)
            if error is not None:
                return error
            got = _number(answer)
            if got is None:
                return Feedback(False, f"return a number (of flops), got {type(answer).__name__}")
            right = attention_flops(b, h, n, d, causal=causal)
            exact_causal = 2 * b * h * n * (n + 1) * d  # the diagonal counted: also accepted
            if got == right or (causal and got == exact_causal):
                continue
            return Feedback(False, f"batch = {b}, heads = {h}, n = {n}, d = {d}, causal = {causal}: "
                                   + _diagnose_flops(got, right, attention_flops(b, h, n, d), b, h, n, d, causal))
    return Feedback(True, "correct: 4·batch·heads·n²·d — two products (q @ k^T, then p @ v) of n²·d "
                          "multiply-adds per head, 2 flops each — and half of it when causal, since the masked "
                          "half is skipped")


def _diagnose_flops(got, right, full, b, h, n, d, causal):
    """What is wrong with `got`, when `right` is the count and `full` the count without the causal mask."""
    ratio = got / right if right else float("inf")
    if causal and got == full:
        return ("with causal = True the kernel skips the tiles above the diagonal: about half of the (query, key) "
                "pairs are never computed, so count half")
    if math.isclose(ratio, 0.5):
        return ("half the right count: count both products (q @ k^T gives the scores, p @ v the outputs) and 2 flops "
                "per multiply-add (a multiply and an add)")
    if math.isclose(ratio, 0.25):
        return ("a quarter of the right count: 2 products, each of n²·d multiply-adds, and each multiply-add "
                "is 2 flops")
    if math.isclose(ratio, 1 / b) or math.isclose(ratio, 1 / h) or math.isclose(ratio, 1 / (b * h)):
        return "every (batch, head) pair computes its own attention: multiply by batch and by heads"
    if math.isclose(got, right * d / n):
        return "the products are (n × d) @ (d × n) and (n × n) @ (n × d): n²·d multiply-adds each, not n·d²"
    if math.isclose(got, right / n):
        return "each of the n queries meets each of the n keys: the count grows as n², not n"
    return f"expected {right:.4g} flops, got {got:.4g}; q @ k^T and p @ v each take n²·d multiply-adds per head"


# ---------------------------------------------------------------------------------------------------
# Exercise 8b.2: the launch grid of the kernel

# (batch, heads, n_q, block_m): a length that block_m divides, and ones it does not
_GRID_CASES = [(4, 16, 1024, 128), (2, 3, 1000, 128), (1, 1, 50, 16), (3, 5, 64, 64), (2, 8, 17, 32)]


def check_launch_grid(fn):
    """Check `fn(batch, heads, n_q, block_m) -> (programs on axis 0, programs on axis 1)`: one program per
    block of block_m queries (axis 0, as tl.program_id(0) * BLOCK_M gives i0) of each (batch, head) (axis 1)."""
    from ..triton_attention import launch_grid

    for b, h, n_q, block_m in _GRID_CASES:
        answer, error = call(fn, b, h, n_q, block_m)
        if error is not None:
            return error
        if not (isinstance(answer, (tuple, list)) and len(answer) == 2 and all(_number(a) is not None for a in answer)):
            return Feedback(False, "a grid for this kernel is a pair of ints (query blocks, batch·heads), "
                                   f"got {answer!r}")
        got = tuple(int(a) if float(a).is_integer() else float(a) for a in answer)
        right = launch_grid(b, h, n_q, block_m)
        if got == right:
            continue
        case = f"batch = {b}, heads = {h}, n_q = {n_q}, block_m = {block_m}: expected {right}, got {got}. "
        return Feedback(False, case + _diagnose_grid(got, right[0], b, h, n_q, block_m))
    return Feedback(True, "correct: ceil(n_q / block_m) programs along axis 0, one per block of queries (the last one "
                          "partly masked), times batch·heads along axis 1")


def _diagnose_grid(got, blocks, b, h, n_q, block_m):
    first, second = got
    if got == (b * h, blocks):
        return ("the axes are swapped: the kernel reads its block of queries from tl.program_id(0) and its "
                "(batch, head) from tl.program_id(1)")
    if second == b * h and first == n_q // block_m:
        return (f"{first} blocks of {block_m} cover only {first * block_m} of the {n_q} queries: the last "
                f"{n_q - first * block_m} would never be computed. Round UP: -(-n_q // block_m), or triton.cdiv")
    if second == b * h and first == n_q // block_m + 1:
        return ("when block_m divides n_q, n_q // block_m + 1 launches one program with no query to compute: "
                "round up instead, -(-n_q // block_m)")
    if second == b * h and first == n_q:
        return "one program computes a whole BLOCK of block_m queries, not one query: ceil(n_q / block_m) programs"
    if second == b * h and isinstance(first, float):
        return "a number of programs is a whole number: round n_q / block_m up (math.ceil, or -(-n_q // block_m))"
    if first == blocks and second in (b, h, b + h):
        return "every (batch, head) pair is independent and needs its own programs: axis 1 has batch·heads of them"
    return "axis 0: ceil(n_q / block_m) blocks of queries; axis 1: batch·heads"


# ---------------------------------------------------------------------------------------------------
# Exercise 8b.3: a softmax kernel in Triton

@functools.cache
def _softmax_kernel():
    """The reference kernel, compiled (or interpreted) on first use: defining it needs Triton."""
    import triton
    import triton.language as tl

    @triton.jit
    def softmax_kernel(X, Y, stride, n_cols, BLOCK: tl.constexpr):
        row = tl.program_id(0)                                  # one program per row
        cols = tl.arange(0, BLOCK)                              # BLOCK: n_cols rounded up to a power of two
        x = tl.load(X + row * stride + cols, mask=cols < n_cols, other=float("-inf"))  # exp(-inf) = 0
        e = tl.exp(x - tl.max(x, axis=0))                       # stable: every exponent <= 0
        tl.store(Y + row * stride + cols, e / tl.sum(e, axis=0), mask=cols < n_cols)

    return softmax_kernel


def softmax(x):
    """The reference: the row-wise softmax of the 2-D tensor x, one Triton program per row."""
    import torch
    import triton

    y = torch.empty_like(x)
    n_rows, n_cols = x.shape
    _softmax_kernel()[(n_rows,)](x, y, x.stride(0), n_cols, BLOCK=triton.next_power_of_2(n_cols))
    return y


def _softmax_cases(torch, device):
    g = torch.Generator().manual_seed(8)
    ordinary = torch.randn(7, 50, generator=g)          # 50 columns: no power of two, so the block is padded
    large = 1000 * torch.randn(3, 20, generator=g)      # exp(1000) overflows float32 (it stops near exp(88.7))
    negative = torch.randn(4, 33, generator=g) - 30     # every score negative: a padding of 0 would be the max
    return [(name, x.to(device)) for name, x in (("ordinary", ordinary), ("large", large), ("negative", negative))]


def check_softmax_kernel(fn):
    """Check `fn(x) -> y`: y = softmax(x) along each row of the 2-D float32 tensor x, computed by a Triton
    kernel with one program per row. x lives on the GPU when there is one, on the CPU (Triton's
    interpreter) otherwise; rows have 50, 20 and 33 columns, none a power of two."""
    try:
        import torch
    except ImportError:
        return Feedback(False, "this exercise needs PyTorch and Triton, and PyTorch is not installed")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    for name, x in _softmax_cases(torch, device):
        answer, error = call(fn, x.clone())
        if error is not None:
            hint = ""
            if "power of 2" in error.message:
                hint = (f". A block must be a power of two: take BLOCK = triton.next_power_of_2({x.shape[1]}) and mask "
                        "the columns beyond the row's end")
            return Feedback(False, f"on the {name} rows (shape {tuple(x.shape)}): {error.message}{hint}")
        if not isinstance(answer, torch.Tensor):
            return Feedback(False, f"return a torch.Tensor, got {type(answer).__name__}")
        if tuple(answer.shape) != tuple(x.shape):
            return Feedback(False, f"the output has shape {tuple(answer.shape)}, expected the input's {tuple(x.shape)}")
        got = answer.detach().double().cpu().numpy()
        xs = x.double().cpu().numpy()
        right = numpy_softmax(xs, axis=1)
        if np.allclose(got, right, atol=1e-5, rtol=1e-4):
            continue
        where = f"on the {name} rows (shape {tuple(x.shape)}): "
        return Feedback(False, where + _diagnose_softmax(got, xs, right, name))
    return Feedback(True, "correct: one program per row, the row padded to a power of two with -inf (which exp turns "
                          "into 0), the maximum subtracted before exp, and the sum taken over the real columns only")


def _diagnose_softmax(got, x, right, name):
    n_rows, n_cols = x.shape
    k = 16
    while k < n_cols:  # a block shorter than the row: only its first columns are computed (the rest: whatever
        part = np.exp(x[:, :k] - x[:, :k].max(axis=1, keepdims=True))  # torch.empty_like left there)
        if np.allclose(got[:, :k], part / part.sum(axis=1, keepdims=True), atol=1e-5):
            return (f"only the first {k} of the {n_cols} columns are computed: the block must cover the whole row, "
                    f"BLOCK = triton.next_power_of_2({n_cols}), with the columns beyond the row masked")
        k *= 2
    if np.allclose(got[0], right[0], atol=1e-5) and not np.allclose(got[1:], right[1:], atol=1e-5):
        return ("the first row is right, the others are not: each program must find its own row, "
                "at X + tl.program_id(0) * stride, and the grid must have one program per row")
    if not np.all(np.isfinite(got)):
        if name == "large":
            return ("NaN or inf: exp of scores near 1000 overflows float32; subtract the row's maximum before exp "
                    "(tl.max(row, axis=0)), which changes nothing else since softmax is shift invariant")
        return "the output contains NaN or inf; padding loaded as -inf must not enter a sum before exp turns it into 0"
    sums = got.sum(axis=1)
    if np.allclose(got.sum(axis=0), 1, atol=1e-4) and not np.allclose(sums, 1, atol=1e-4):
        return "each COLUMN sums to 1: the softmax must run along each row (over the last axis)"
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = got / right  # one constant per row when only the denominator is wrong
    proportional = np.all(np.isfinite(ratio)) and np.allclose(ratio, ratio[:, :1], rtol=1e-3)
    if proportional and np.all(sums < 1 - 1e-4):
        return (f"the rows sum to {sums.min():.3g} .. {sums.max():.3g}, not 1: the denominator counts the "
                f"padding columns beyond the {n_cols} real ones. Load them with other=float('-inf'), "
                "which exp turns into 0")
    if proportional and np.all(sums > 1 + 1e-4):
        return ("the rows sum to more than 1: the denominator misses some columns; the block must cover the "
                f"whole row (BLOCK = triton.next_power_of_2({n_cols}))")
    if np.all(got == 0):
        return "the output is all zeros: store the result with tl.store into the output tensor"
    return "the output differs from softmax(x) along each row; compare one row with torch.softmax(x, dim=1)"


EXERCISES = [
    Exercise(checker=check_attention_flops, reference="attn_course.triton_attention.attention_flops",
             chapter="08b_gpu_kernel", solution="attention_flops"),
    Exercise(checker=check_launch_grid, reference="attn_course.triton_attention.launch_grid",
             chapter="08b_gpu_kernel", solution="launch_grid"),
    Exercise(checker=check_softmax_kernel, reference="attn_course.exercises.gpu.softmax",
             chapter="08b_gpu_kernel", solution="softmax"),
]
