"""Checkers for the exercises of chapter 8b (attention on the GPU: a FlashAttention kernel in Triton).

    check_attention_flops(fn)   fn(batch, heads, n, d, causal) -> the flops of attention's two matrix products
    check_launch_grid(fn)       fn(batch, heads, n_q, block_m) -> the kernel's launch grid, a pair of ints
    check_softmax_kernel(fn)    fn(x) -> the row-wise softmax of a 2-D torch tensor, computed by the
                                learner's own Triton kernel (in Triton's interpreter when there is no GPU)
    check_tile_prediction(tiles)        predict: (computed, masked) tiles of a causal program, n = 1024, tiles of 128
    check_arithmetic_intensity(fn)      derive: fn(n, d, itemsize) -> flops per byte of the fused kernel
    check_long_softmax(fn)              hard: fn(x, block) -> row softmax by a Triton kernel reading block columns
                                        at a time (the online softmax per lane)

The references of the first two are the package's own, attn_course.triton_attention.attention_flops and
launch_grid; the third's is `softmax` below. Every checker imports torch and Triton only when it is called,
so importing attn_course.exercises never imports Triton (which must see TRITON_INTERPRET before its first
import: chapter 8b sets it first).
"""
import functools
import math

import numpy as np

from ..softmax import softmax as numpy_softmax
from .feedback import Feedback, call, checker, fail, not_written
from .registry import Exercise, Mistake


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


@checker
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
                return fail(f"expected a number (of flops), got {type(answer).__name__}: look at what you return",
                            "4 * batch * heads * n * n * d, halved when causal")
            right = attention_flops(b, h, n, d, causal=causal)
            exact_causal = 2 * b * h * n * (n + 1) * d  # the diagonal counted: also accepted
            if got == right or (causal and got == exact_causal):
                continue
            message, *hints = _diagnose_flops(got, right, attention_flops(b, h, n, d), b, h, n, d, causal)
            return fail(f"batch = {b}, heads = {h}, n = {n}, d = {d}, causal = {causal}: {message}", *hints)
    return Feedback(True, "correct: 4·batch·heads·n²·d — two products (q @ k^T, then p @ v) of n²·d "
                          "multiply-adds per head, 2 flops each — and half of it when causal, since the masked "
                          "half is skipped")


def _diagnose_flops(got, right, full, b, h, n, d, causal):
    """What is wrong with `got`, when `right` is the count and `full` the count without the causal mask."""
    ratio = got / right if right else float("inf")
    fix = "4 * batch * heads * n * n * d, divided by 2 when causal"
    if causal and got == full:
        return ("with causal = True you count every (query, key) pair: look at what the kernel skips",
                "it skips the tiles above the diagonal: about half of the pairs are never computed", "count half: " + fix)
    if math.isclose(ratio, 0.5):
        return ("half the right count: look at how many products and how many flops per multiply-add",
                "count both products (q @ k^T gives the scores, p @ v the outputs) and 2 flops per multiply-add "
                "(a multiply and an add)", fix)
    if math.isclose(ratio, 0.25):
        return ("a quarter of the right count: look at the products and at the flops per multiply-add",
                "2 products, each of n²·d multiply-adds, and each multiply-add is 2 flops", fix)
    if math.isclose(ratio, 1 / b) or math.isclose(ratio, 1 / h) or math.isclose(ratio, 1 / (b * h)):
        return ("too few by a factor of the batch or the heads: look at how many attentions run",
                "every (batch, head) pair computes its own attention", "multiply by batch and by heads: " + fix)
    if math.isclose(got, right * d / n):
        return ("your count grows as n·d²: look at the shapes of the two products",
                "(n × d) @ (d × n) and (n × n) @ (n × d): n²·d multiply-adds each, not n·d²", fix)
    if math.isclose(got, right / n):
        return ("your count grows as n: look at how many (query, key) pairs there are",
                "each of the n queries meets each of the n keys: the count grows as n²", fix)
    return (f"expected {right:.4g} flops, got {got:.4g}: look at each factor",
            "q @ k^T and p @ v each take n²·d multiply-adds per head", fix)


# ---------------------------------------------------------------------------------------------------
# Exercise 8b.2: the launch grid of the kernel

# (batch, heads, n_q, block_m): a length that block_m divides, and ones it does not
_GRID_CASES = [(4, 16, 1024, 128), (2, 3, 1000, 128), (1, 1, 50, 16), (3, 5, 64, 64), (2, 8, 17, 32)]


@checker
def check_launch_grid(fn):
    """Check `fn(batch, heads, n_q, block_m) -> (programs on axis 0, programs on axis 1)`: one program per
    block of block_m queries (axis 0, as tl.program_id(0) * BLOCK_M gives i0) of each (batch, head) (axis 1)."""
    from ..triton_attention import launch_grid

    for b, h, n_q, block_m in _GRID_CASES:
        answer, error = call(fn, b, h, n_q, block_m)
        if error is not None:
            return error
        if not (isinstance(answer, (tuple, list)) and len(answer) == 2 and all(_number(a) is not None for a in answer)):
            return fail(f"expected a pair of ints (query blocks, batch·heads), got {answer!r}: look at what you "
                        "return", "a grid has one entry per axis of programs",
                        "(-(-n_q // block_m), batch * heads)")
        got = tuple(int(a) if float(a).is_integer() else float(a) for a in answer)
        right = launch_grid(b, h, n_q, block_m)
        if got == right:
            continue
        case = f"batch = {b}, heads = {h}, n_q = {n_q}, block_m = {block_m}: expected {right}, got {got}. "
        message, *hints = _diagnose_grid(got, right[0], b, h, n_q, block_m)
        return fail(case + message, *hints)
    return Feedback(True, "correct: ceil(n_q / block_m) programs along axis 0, one per block of queries (the last one "
                          "partly masked), times batch·heads along axis 1")


def _diagnose_grid(got, blocks, b, h, n_q, block_m):
    first, second = got
    fix = "(-(-n_q // block_m), batch * heads), or (triton.cdiv(n_q, block_m), batch * heads)"
    if got == (b * h, blocks):
        return ("the axes are swapped: look at which program id the kernel reads its block of queries from",
                "the block of queries comes from tl.program_id(0), the (batch, head) from tl.program_id(1)", fix)
    if second == b * h and first == n_q // block_m:
        return (f"{first} blocks of {block_m} cover only {first * block_m} of the {n_q} queries, so the last "
                f"{n_q - first * block_m} would never be computed: look at how you divide",
                "a partial block still needs its program", "round UP: " + fix)
    if second == b * h and first == n_q // block_m + 1:
        return ("when block_m divides n_q this launches one program with no query to compute: look at how you round",
                "n_q // block_m + 1 is one too many when the division is exact", "round up instead: " + fix)
    if second == b * h and first == n_q:
        return ("one program per query: look at how many queries one program computes",
                "one program computes a whole BLOCK of block_m queries", fix)
    if second == b * h and isinstance(first, float):
        return ("a number of programs is a whole number: look at your division",
                "round n_q / block_m up", fix)
    if first == blocks and second in (b, h, b + h):
        return ("too few programs on axis 1: look at how many (batch, head) pairs there are",
                "every (batch, head) pair is independent and needs its own programs", fix)
    return ("look at each axis", "axis 0: ceil(n_q / block_m) blocks of queries; axis 1: batch·heads", fix)


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


@checker
def check_softmax_kernel(fn):
    """Check `fn(x) -> y`: y = softmax(x) along each row of the 2-D float32 tensor x, computed by a Triton
    kernel with one program per row. x lives on the GPU when there is one, on the CPU (Triton's
    interpreter) otherwise; rows have 50, 20 and 33 columns, none a power of two."""
    try:
        import torch
    except ImportError:
        return fail("this exercise needs PyTorch and Triton, and PyTorch is not installed: look at the chapter's "
                    "install cell", "pip install torch triton (Triton has wheels for Linux only)")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    for name, x in _softmax_cases(torch, device):
        answer, error = call(fn, x.clone())
        if error is not None:
            if "power of 2" in error.message:
                return fail(f"on the {name} rows (shape {tuple(x.shape)}): {error.message}: look at BLOCK",
                            "tl.arange needs a power of two", f"BLOCK = triton.next_power_of_2({x.shape[1]}), with "
                            "the columns beyond the row's end masked")
            return fail(f"on the {name} rows (shape {tuple(x.shape)}): {error.message}", *error.hints)
        if not isinstance(answer, torch.Tensor):
            return fail(f"expected a torch.Tensor, got {type(answer).__name__}: look at what you return",
                        "return y, the tensor the kernel stored into")
        if tuple(answer.shape) != tuple(x.shape):
            return fail(f"the output has shape {tuple(answer.shape)}, expected the input's {tuple(x.shape)}: look at "
                        "the output tensor", "y = torch.empty_like(x)")
        got = answer.detach().double().cpu().numpy()
        xs = x.double().cpu().numpy()
        right = numpy_softmax(xs, axis=1)
        if np.allclose(got, right, atol=1e-5, rtol=1e-4):
            continue
        message, *hints = _diagnose_softmax(got, xs, right, name)
        return fail(f"on the {name} rows (shape {tuple(x.shape)}): {message}", *hints)
    return Feedback(True, "correct: one program per row, the row padded to a power of two with -inf (which exp turns "
                          "into 0), the maximum subtracted before exp, and the sum taken over the real columns only")


def _diagnose_softmax(got, x, right, name):
    """(message, *hints) for a wrong softmax kernel, the last hint the fix."""
    n_rows, n_cols = x.shape
    block = f"BLOCK = triton.next_power_of_2({n_cols}), with mask=cols < n_cols"
    k = 16
    while k < n_cols:  # a block shorter than the row: only its first columns are computed (the rest: whatever
        part = np.exp(x[:, :k] - x[:, :k].max(axis=1, keepdims=True))  # torch.empty_like left there)
        if np.allclose(got[:, :k], part / part.sum(axis=1, keepdims=True), atol=1e-5):
            return (f"only the first {k} of the {n_cols} columns are computed: look at BLOCK",
                    "the block must cover the whole row", block)
        k *= 2
    if np.allclose(got[0], right[0], atol=1e-5) and not np.allclose(got[1:], right[1:], atol=1e-5):
        return ("the first row is right, the others are not: look at how each program finds its row",
                "the grid must have one program per row", "row = tl.program_id(0); load at X + row * stride + cols")
    if not np.all(np.isfinite(got)):
        if name == "large":
            return ("NaN or inf: look at the exponentials", "exp of scores near 1000 overflows float32; softmax is "
                    "shift invariant", "subtract the row's maximum before exp: x - tl.max(x, axis=0)")
        return ("the output contains NaN or inf: look at the padding",
                "padding loaded as -inf must not enter a sum before exp turns it into 0",
                "e = tl.exp(x - tl.max(x, axis=0)), then tl.sum(e, axis=0)")
    sums = got.sum(axis=1)
    if np.allclose(got.sum(axis=0), 1, atol=1e-4) and not np.allclose(sums, 1, atol=1e-4):
        return ("each row should sum to 1, but the columns do: look at which axis a program reads",
                "the softmax runs along each row (over the last axis)", "one program per row, reading its columns")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = got / right  # one constant per row when only the denominator is wrong
    proportional = np.all(np.isfinite(ratio)) and np.allclose(ratio, ratio[:, :1], rtol=1e-3)
    if proportional and np.all(sums < 1 - 1e-4):
        return (f"the rows sum to {sums.min():.3g} .. {sums.max():.3g}, not 1: look at the padding columns",
                f"the denominator counts the padding columns beyond the {n_cols} real ones",
                "load them with other=float('-inf'), which exp turns into 0")
    if proportional and np.all(sums > 1 + 1e-4):
        return ("the rows sum to more than 1: look at which columns enter the denominator",
                "the denominator misses some columns: the block must cover the whole row", block)
    if np.all(got == 0):
        return ("the output is all zeros: look at the end of the kernel",
                "store the result with tl.store into the output tensor")
    return ("the output differs from softmax(x) along each row: compare one row with torch.softmax(x, dim=1)",
            "load with other=float('-inf'), subtract the max, exp, divide by the sum, store with the same mask")


# ---------------------------------------------------------------------------------------------------
# Exercise 8b.4 (predict): which tiles does a causal program compute?

PREDICT_PLAN = dict(n_q=1024, n_k=1024, block_m=128, block_n=128, causal=True)


def _plan_counts():
    """(tiles computed, tiles computed with a mask) of the kernel for PREDICT_PLAN, by the package's tile_plan."""
    from ..triton_attention import tile_plan  # imports Triton where installed: the chapter has set the interpreter
    plan = tile_plan(**PREDICT_PLAN)
    return int((plan > 0).sum()), int((plan == 2).sum())


def __getattr__(name):
    # TILES, the reference prediction, is computed by tile_plan when first asked for, not when this module is
    # imported (importing attn_course.exercises must not import Triton).
    if name == "TILES":
        return _plan_counts()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@checker
def check_tile_prediction(tiles):
    """Check a prediction `tiles = (computed, masked)`: for causal attention with n = 1024 queries and keys and
    square tiles of 128 (block_m = block_n = 128), how many of the 8 x 8 (block of queries, tile of keys)
    pairs does the kernel compute, and how many of those need a mask?"""
    if tiles is Ellipsis:
        return not_written("your prediction `tiles`", "the `...` after `tiles =`")
    if not (isinstance(tiles, (tuple, list)) and len(tiles) == 2 and all(_number(t) is not None for t in tiles)):
        return Feedback(False, f"write the prediction as a pair of numbers (computed, masked), got {tiles!r}")
    computed, masked = (int(t) for t in tiles)
    right_computed, right_masked = _plan_counts()
    blocks = PREDICT_PLAN["n_q"] // PREDICT_PLAN["block_m"]
    if computed == blocks * blocks:
        return Feedback(False, f"{computed} computed tiles is every tile of the 8 x 8 grid: does a causal program need "
                               "the tiles of keys that come after all of its queries?",
                        hints=("block i holds queries 128 i .. 128 i + 127; tile j holds keys 128 j .. 128 j + 127",
                               "block i computes tiles 0 .. i: 1 + 2 + ... + 8 = 36 in all"))
    if computed == blocks * (blocks - 1) // 2:
        return Feedback(False, f"{computed} computed tiles leaves out the tiles on the diagonal: does query i see key i?",
                        hints=("the diagonal tile j = i holds keys that query block i may see (j <= i within it)",
                               "the 28 tiles below the diagonal and the 8 on it: 36"))
    if computed != right_computed:
        return Feedback(False, f"{computed} computed tiles is not the count: count, for each block of queries, "
                               "the tiles of keys up to its last query",
                        hints=("block i (0 .. 7) computes tiles 0 .. i", f"1 + 2 + ... + 8 = {right_computed}"))
    if masked == 0:
        return Feedback(False, "the computed count is right, but no tile needs a mask? Look at the tile on the diagonal",
                        hints=("in the diagonal tile, query 128 i sees only key 128 i; query 128 i + 127 sees all 128",
                               f"each of the {blocks} diagonal tiles needs a mask: {right_masked}"))
    if masked != right_masked:
        return Feedback(False, f"{masked} masked tiles: which tiles hold both keys a query may see and keys it may not?",
                        hints=("a tile entirely below the diagonal is seen whole by every query of its block",
                               f"only the {right_masked} tiles on the diagonal are masked"))
    return Feedback(True, f"right: {right_computed} of the {blocks * blocks} tiles are computed (block i computes "
                          f"tiles 0 .. i), and only the {right_masked} on the diagonal need a mask; "
                          f"{right_computed / blocks ** 2:.1%} of the work of non-causal attention")


# ---------------------------------------------------------------------------------------------------
# Exercise 8b.5 (derive): the arithmetic intensity of the fused kernel

def arithmetic_intensity(n, d, itemsize):
    """The reference: flops per byte of main memory moved by the fused kernel for one head, not causal.
    Flops: attention_flops(1, 1, n, d) = 4 n^2 d. Bytes: q, k, v read and out written once, 4 n d numbers
    of itemsize bytes. Their ratio is n / itemsize."""
    from ..triton_attention import attention_flops
    return attention_flops(1, 1, n, d) / (4 * n * d * itemsize)


_INTENSITY_CASES = [(1024, 64, 2), (4096, 128, 4), (500, 32, 2), (2048, 128, 1)]


@checker
def check_arithmetic_intensity(fn):
    """Check `fn(n, d, itemsize) -> flops per byte`: the floating-point operations of one head of attention
    (not causal) divided by the bytes the fused kernel moves to and from main memory (it reads q, k and v of
    shape (n, d) once and writes the output once, each number taking itemsize bytes)."""
    for n, d, itemsize in _INTENSITY_CASES:
        answer, error = call(fn, n, d, itemsize)
        if error is not None:
            return error
        got = _number(answer)
        case = f"n = {n}, d = {d}, itemsize = {itemsize}"
        if got is None:
            return Feedback(False, f"{case}: return a number of flops per byte, got {type(answer).__name__}")
        right = arithmetic_intensity(n, d, itemsize)
        if np.isclose(got, right):
            continue
        if itemsize != 1 and np.isclose(got, right * itemsize):
            return Feedback(False, f"{case}: you returned {got:g}, flops per NUMBER moved: what does a byte count?",
                            hints=("each number of q, k, v and out takes itemsize bytes",
                                   "divide by 4 n d itemsize bytes"))
        if np.isclose(got, right * 4 / 3):
            return Feedback(False, f"{case}: you returned {got:g}: the bytes count what is read; is anything written?",
                            hints=("the output (n, d) is written to main memory once, as many bytes as q",
                                   "bytes = (3 + 1) n d itemsize: q, k, v read and out written"))
        if np.isclose(got, right / 2):
            return Feedback(False, f"{case}: you returned {got:g}, half the intensity: which flops are counted?",
                            hints=("q @ k^T and p @ v each take n^2 d multiply-adds, 2 flops each",
                                   "flops = 4 n^2 d (attention_flops of exercise 8b.1)"))
        if np.isclose(got, right * d / n):
            return Feedback(False, f"{case}: you returned {got:g}: the bytes grow like n d, not n^2: which n x n "
                                   "matrix does the fused kernel write to main memory?",
                            hints=("the scores live in a tile on chip and never reach main memory",
                                   "bytes = 4 n d itemsize"))
        return Feedback(False, f"{case}: expected {right:g} flops per byte, got {got:g}",
                        hints=("flops = 4 n^2 d; bytes = 4 n d itemsize", "their ratio is n / itemsize"))
    return Feedback(True, "correct: 4 n² d flops over 4 n d itemsize bytes = n / itemsize, independent of d: the "
                          "longer the sequence, the more arithmetic per byte, so a long fused attention is limited "
                          "by the GPU's arithmetic, not by its memory bandwidth")


# ---------------------------------------------------------------------------------------------------
# Exercise 8b.6 (hard): a softmax kernel for rows longer than a tile

@functools.cache
def _long_softmax_kernel():
    import triton
    import triton.language as tl

    @triton.jit
    def long_softmax_kernel(X, Y, stride, n_cols, BLOCK: tl.constexpr):
        row = tl.program_id(0)
        m = tl.full([BLOCK], float("-inf"), tl.float32)        # running maximum, per lane of the tile
        l = tl.zeros([BLOCK], tl.float32)                       # running sum of exp(x - m), per lane
        for j0 in range(0, n_cols, BLOCK):                      # pass 1: the online softmax's statistics
            cols = j0 + tl.arange(0, BLOCK)
            x = tl.load(X + row * stride + cols, mask=cols < n_cols, other=float("-inf"))
            m_new = tl.maximum(m, x)
            safe = tl.where(m_new > float("-inf"), m_new, 0.0)  # lanes that saw only padding: exp(-inf) = 0
            l = l * tl.exp(m - safe) + tl.exp(x - safe)
            m = m_new
        m_row = tl.max(m, axis=0)                               # the lanes merged (exercise 8.5)
        l_row = tl.sum(l * tl.exp(m - m_row), axis=0)
        for j0 in range(0, n_cols, BLOCK):                      # pass 2: normalise and store
            cols = j0 + tl.arange(0, BLOCK)
            x = tl.load(X + row * stride + cols, mask=cols < n_cols, other=float("-inf"))
            tl.store(Y + row * stride + cols, tl.exp(x - m_row) / l_row, mask=cols < n_cols)

    return long_softmax_kernel


def _long_softmax_variant(x, block, *, rescale=True, pad=-np.inf):
    """The kernel's arithmetic in NumPy (x: (rows, n_cols) float64), right (the defaults) or with a typical
    mistake: the old sums not rescaled when the maximum rises, or the padding loaded as `pad`."""
    n_cols = x.shape[1]
    width = -(-n_cols // block) * block
    padded = np.full((len(x), width), pad)
    padded[:, :n_cols] = x
    m, l = np.full((len(x), block), -np.inf), np.zeros((len(x), block))
    with np.errstate(all="ignore"):
        for j0 in range(0, n_cols, block):
            tile = padded[:, j0:j0 + block]
            m_new = np.maximum(m, tile)
            safe = np.where(m_new > -np.inf, m_new, 0.0)
            l = l * (np.exp(m - safe) if rescale else 1.0) + np.exp(tile - safe)
            m = m_new
        m_row = m.max(axis=1, keepdims=True)
        l_row = (l * np.exp(m - m_row)).sum(axis=1, keepdims=True)
        return np.exp(x - m_row) / l_row


def long_softmax(x, block):
    """The reference: the row-wise softmax of the 2-D float32 tensor x, one Triton program per row, reading
    the row `block` columns at a time (two passes: the online softmax's max and sum, then the output)."""
    import torch

    y = torch.empty_like(x)
    _long_softmax_kernel()[(x.shape[0],)](x, y, x.stride(0), x.shape[1], BLOCK=block)
    return y


@checker
def check_long_softmax(fn):
    """Check `fn(x, block) -> y`: y = softmax(x) along each row of the 2-D float32 tensor x, by a Triton kernel
    with one program per row that reads the row `block` columns at a time (block a power of two, shorter
    than the row). Rows of 50, 20 and 33 columns, read 16 or 8 at a time; some scores near 1000, some all
    below -30; the maximum of a row may sit in any tile."""
    try:
        import torch
    except ImportError:
        return Feedback(False, "this exercise needs PyTorch and Triton, and PyTorch is not installed")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    g = torch.Generator().manual_seed(86)
    rising = torch.randn(5, 50, generator=g) + torch.linspace(0, 12, 50)  # the maximum rises tile after tile
    for (name, x), block in zip(_softmax_cases(torch, device) + [("rising", rising.to(device))], (16, 8, 16, 16)):
        answer, error = call(fn, x.clone(), block)
        where = f"on the {name} rows (shape {tuple(x.shape)}, block = {block})"
        if error is not None:
            return Feedback(False, f"{where}: {error.message}")
        if not isinstance(answer, torch.Tensor) or tuple(answer.shape) != tuple(x.shape):
            return Feedback(False, f"{where}: return a tensor of the input's shape {tuple(x.shape)}")
        got, xs = answer.detach().double().cpu().numpy(), x.double().cpu().numpy()
        right = numpy_softmax(xs, axis=1)
        if np.allclose(got, right, atol=1e-5, rtol=1e-4):
            continue
        sums = got.sum(axis=1)
        if not np.all(np.isfinite(got)):
            return Feedback(False, f"{where}: the output has NaN or inf. Which exponential can overflow, or meet "
                                   "-inf - (-inf)?",
                            hints=("every exp must take something <= 0: subtract the running maximum; a lane that "
                                   "has seen only padding has m = -inf",
                                   "use safe = tl.where(m_new > -inf, m_new, 0) in the exponents"))
        if np.allclose(got, _long_softmax_variant(xs, block, rescale=False), atol=1e-5, rtol=1e-4):
            return Feedback(False, f"{where}: the rows sum to {sums.min():.3g} .. {sums.max():.3g}, not 1: the "
                                   "denominator is too large. When the maximum rises, what happens to the sum "
                                   "accumulated before?",
                            hints=("l holds sum exp(x_j - m) for the OLD m: when m rises to m_new, those terms "
                                   "shrink by exp(m - m_new)",
                                   "l = l * tl.exp(m - m_new) + tl.exp(x - m_new), then m = m_new"))
        if np.allclose(got, _long_softmax_variant(xs, block, pad=0.0), atol=1e-5, rtol=1e-4):
            return Feedback(False, f"{where}: the rows sum to {sums.min():.3g} .. {sums.max():.3g}, not 1: the "
                                   "denominator counts something beyond the real columns",
                            hints=("the last tile runs past the row's end: what do its padding lanes hold?",
                                   "load with mask=cols < n_cols and other=float('-inf')"))
        return Feedback(False, f"{where}: the output differs from softmax(x) by up to {np.abs(got - right).max():.3g}",
                        hints=("pass 1: running m and l over all the tiles; pass 2: exp(x - m) / l for each tile",
                               "compare one row with torch.softmax(x, dim=1) tile by tile"))
    return Feedback(True, "correct: one pass of the online softmax over the tiles gives each row's maximum and sum, "
                          "a second pass writes exp(x - m) / l; any row length, with one tile in registers at a time")


def _flops_mistake(body):
    return f"def attention_flops(batch, heads, n, d, causal=False):\n    return {body}\n"


def _grid_mistake(body):
    return f"import math\n\ndef launch_grid(batch, heads, n_q, block_m):\n    return {body}\n"


HALF = " // (2 if causal else 1)"

EXERCISES = [
    Exercise(checker=check_attention_flops, reference="attn_course.triton_attention.attention_flops",
             chapter="08b_gpu_kernel", solution="attention_flops", level="debug", mistakes=(
                 Mistake(_flops_mistake("2 * batch * heads * n * n * d" + HALF), "half the right count"),
                 Mistake(_flops_mistake("batch * heads * n * n * d" + HALF), "a quarter"),
                 Mistake(_flops_mistake("4 * batch * heads * n * n * d"), "causal = True"),
                 Mistake(_flops_mistake("4 * heads * n * n * d" + HALF), "the batch or the heads"),
                 Mistake(_flops_mistake("4 * batch * heads * n * d * d" + HALF), "grows as n·d²"),
                 Mistake(_flops_mistake("4 * batch * heads * n * d" + HALF), "grows as n"),
                 Mistake(_flops_mistake("7"), "expected"),
                 Mistake(_flops_mistake("'many'"), "expected a number"),
             )),
    Exercise(checker=check_launch_grid, reference="attn_course.triton_attention.launch_grid",
             chapter="08b_gpu_kernel", solution="launch_grid", level="debug", mistakes=(
                 Mistake(_grid_mistake("(n_q // block_m, batch * heads)"), "would never be computed"),
                 Mistake(_grid_mistake("(n_q // block_m + 1, batch * heads)"), "no query to compute"),
                 Mistake(_grid_mistake("(batch * heads, math.ceil(n_q / block_m))"), "axes are swapped"),
                 Mistake(_grid_mistake("(n_q, batch * heads)"), "one program per query"),
                 Mistake(_grid_mistake("(n_q / block_m, batch * heads)"), "whole number"),
                 Mistake(_grid_mistake("(math.ceil(n_q / block_m), heads)"), "too few programs on axis 1"),
                 Mistake(_grid_mistake("math.ceil(n_q / block_m) * batch * heads"), "pair of ints"),
                 Mistake(_grid_mistake("(1, 1)"), "look at each axis"),
             )),
    # Its wrong kernels (padding with 0, no max, a short block, one row, columns) need Triton to compile: they are
    # run by tests/test_exercises_gpu.py, which builds them from one parametrised kernel.
    Exercise(checker=check_softmax_kernel, reference="attn_course.exercises.gpu.softmax",
             chapter="08b_gpu_kernel", solution="softmax", level="implement"),
    Exercise(checker=check_tile_prediction, reference="attn_course.exercises.gpu.TILES",
             chapter="08b_gpu_kernel", solution="tiles", level="predict", points=1,
             mistakes=(Mistake("tiles = (64, 8)", "every tile of the 8 x 8 grid"),
                       Mistake("tiles = (28, 0)", "leaves out the tiles on the diagonal"),
                       Mistake("tiles = (36, 0)", "Look at the tile on the diagonal"),
                       Mistake("tiles = (36, 36)", "which tiles hold both keys"))),
    Exercise(checker=check_arithmetic_intensity, reference="attn_course.exercises.gpu.arithmetic_intensity",
             chapter="08b_gpu_kernel", solution="intensity", level="derive", points=2,
             mistakes=(Mistake("def intensity(n, d, itemsize):\n    return 4 * n * n * d / (4 * n * d)",
                               "flops per NUMBER moved"),
                       Mistake("def intensity(n, d, itemsize):\n    return 4 * n * n * d / (3 * n * d * itemsize)",
                               "is anything written"),
                       Mistake("def intensity(n, d, itemsize):\n    return 4 * n * n * d / (4 * n * n * itemsize)",
                               "which n x n matrix"))),
    Exercise(checker=check_long_softmax, reference="attn_course.exercises.gpu.long_softmax",
             chapter="08b_gpu_kernel", solution="long_softmax", level="hard", points=3,
             mistakes=(Mistake('import triton\nimport triton.language as tl\n\n@triton.jit\ndef long_softmax_kernel(X, Y, stride, n_cols, BLOCK: tl.constexpr):\n    row = tl.program_id(0)\n    m = tl.full([BLOCK], float("-inf"), tl.float32)\n    l = tl.zeros([BLOCK], tl.float32)\n    for j0 in range(0, n_cols, BLOCK):\n        cols = j0 + tl.arange(0, BLOCK)\n        x = tl.load(X + row * stride + cols, mask=cols < n_cols, other=float("-inf"))\n        m_new = tl.maximum(m, x)\n        safe = tl.where(m_new > float("-inf"), m_new, 0.0)\n        l = l * 1.0 + tl.exp(x - safe)\n        m = m_new\n    m_row = tl.max(m, axis=0)\n    l_row = tl.sum(l * tl.exp(m - m_row), axis=0)\n    for j0 in range(0, n_cols, BLOCK):\n        cols = j0 + tl.arange(0, BLOCK)\n        x = tl.load(X + row * stride + cols, mask=cols < n_cols, other=float("-inf"))\n        tl.store(Y + row * stride + cols, tl.exp(x - m_row) / l_row, mask=cols < n_cols)\n\ndef long_softmax(x, block):\n    y = torch.empty_like(x)\n    long_softmax_kernel[(x.shape[0],)](x, y, x.stride(0), x.shape[1], BLOCK=block)\n    return y\n', "what happens to the sum accumulated before"),
                       Mistake('import triton\nimport triton.language as tl\n\n@triton.jit\ndef long_softmax_kernel(X, Y, stride, n_cols, BLOCK: tl.constexpr):\n    row = tl.program_id(0)\n    m = tl.full([BLOCK], float("-inf"), tl.float32)\n    l = tl.zeros([BLOCK], tl.float32)\n    for j0 in range(0, n_cols, BLOCK):\n        cols = j0 + tl.arange(0, BLOCK)\n        x = tl.load(X + row * stride + cols, mask=cols < n_cols, other=0.0)\n        m_new = tl.maximum(m, x)\n        safe = tl.where(m_new > float("-inf"), m_new, 0.0)\n        l = l * tl.exp(m - safe) + tl.exp(x - safe)\n        m = m_new\n    m_row = tl.max(m, axis=0)\n    l_row = tl.sum(l * tl.exp(m - m_row), axis=0)\n    for j0 in range(0, n_cols, BLOCK):\n        cols = j0 + tl.arange(0, BLOCK)\n        x = tl.load(X + row * stride + cols, mask=cols < n_cols, other=float("-inf"))\n        tl.store(Y + row * stride + cols, tl.exp(x - m_row) / l_row, mask=cols < n_cols)\n\ndef long_softmax(x, block):\n    y = torch.empty_like(x)\n    long_softmax_kernel[(x.shape[0],)](x, y, x.stride(0), x.shape[1], BLOCK=block)\n    return y\n', "the denominator counts something beyond the real columns"))),
]
