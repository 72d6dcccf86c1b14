"""FlashAttention's forward pass as a GPU kernel, in Triton: attn_course.flash.tiled_attention, on the GPU.

    from attn_course.triton_attention import flash_attention
    out = flash_attention(q, k, v, causal=True)         # q, k, v: (batch, heads, n, d) torch tensors

The NumPy `tiled_attention` of attn_course.flash runs two loops: over blocks of queries, and inside, over
tiles of keys, keeping for each query the running max m, the running denominator l and the running
numerator acc of the online softmax (Milakov & Gimelshein, arXiv 2018; Dao et al., NeurIPS 2022).
The kernel below is the same algorithm, written to be read next to it:

- the OUTER loop becomes the launch grid: one program per (block of queries, batch x head), all launched
  at once and run side by side on the GPU's streaming multiprocessors (`flash_attention` launches them);
- the INNER loop is a loop inside each program (`_flash_forward_kernel`), and its body, one tile of
  keys, is `_attend_tile`: the same lines as NumPy's loop body, with m, l and acc held in registers;
- the (block, block) tile of scores lives only in registers and on-chip memory: no n x n matrix is
  ever written to the GPU's main memory (HBM), which is the point of FlashAttention.

Triton (Tillet, Kung & Cox, MAPL 2019) compiles such block-level Python to GPU code. Without a GPU,
Triton's interpreter runs the very same source on the CPU, tile by tile in NumPy: slow, but exact,
which is how the course tests the kernel on machines with no GPU. Triton decides when it is imported,
so switch the interpreter on first:

    import os, torch
    if not torch.cuda.is_available():
        os.environ["TRITON_INTERPRET"] = "1"      # before the first `import triton`
    from attn_course.triton_attention import flash_attention

Supported: float16 and bfloat16 (the GPU's tensor-core types) and float32; head dimensions 16, 32, 64,
128; causal or not. Forward pass only (no autograd). Importing this module never fails; when Triton or
PyTorch is missing, calling `flash_attention` raises an ImportError that says so.
"""
import inspect
import math
import os
from types import SimpleNamespace

import numpy as np

from ._checks import positive

try:
    import torch
except ImportError:  # the NumPy course runs without torch; only calls need it
    torch = None

try:
    import triton
    import triton.language as tl
    _MISSING = None
except ImportError as error:  # Triton has wheels for Linux only; elsewhere the rest of the course still runs
    triton = None
    tl = SimpleNamespace(constexpr=None)  # only so that the kernels' annotations below can be evaluated
    _MISSING = f"{type(error).__name__}: {error}"

HEAD_DIMS = (16, 32, 64, 128)  # one tile holds a whole head: tl.arange needs a power of two, tl.dot >= 16
INTERPRETER_BLOCK = (32, 32)   # (BLOCK_M, BLOCK_N) in the interpreter: small tiles keep NumPy's work small


def attention_flops(batch, heads, n, d, *, causal=False):
    """Floating-point operations of attention's two matrix products, 4 * batch * heads * n^2 * d.

    q @ k^T and p @ v each take n^2 * d multiply-adds per head, and a multiply-add is 2 flops;
    the softmax's O(n^2) exponentials are not counted (the convention of FlashAttention's benchmarks).
    causal: half, since about half of the (query, key) pairs are masked and never computed.
    """
    flops = 4 * batch * heads * n * n * d
    return flops // 2 if causal else flops


def launch_grid(batch, heads, n_q, block_m):
    """The launch grid: (query blocks, batch x heads) programs, one per block of block_m queries of one head.

    Axis 0 is NumPy's outer loop `for i0 in range(0, n_q, block_size)`: ceil(n_q / block_m) blocks, the
    last one partly empty when block_m does not divide n_q. Axis 1 runs over every (batch, head) pair.
    """
    return (-(-n_q // block_m), batch * heads)


def tile_plan(n_q, n_k, block_m, block_n, causal=False):
    """What the kernel does with each (block of queries, tile of keys): an int array of shape
    (query blocks, key tiles), 0 = skipped, 1 = computed without a mask, 2 = computed with a mask.

    The same arithmetic as the kernel's k_full and k_end, in Python: a causal program stops after the
    tile that holds its last query's last visible key, and only the tiles that cross the diagonal (or
    run past n_k) pay for a mask.
    """
    blocks, tiles = launch_grid(1, 1, n_q, block_m)[0], -(-n_k // block_n)
    plan = np.zeros((blocks, tiles), dtype=int)
    offset = n_k - n_q
    for block in range(blocks):
        i0 = block * block_m
        if causal:
            k_end = min(n_k, min(i0 + block_m, n_q) + offset)
            k_full = min(n_k, i0 + 1 + offset)
        else:
            k_end = k_full = n_k
        k_full = max(k_full, 0) // block_n * block_n
        plan[block, 0:k_full // block_n] = 1
        for j0 in range(k_full, k_end, block_n):
            plan[block, j0 // block_n] = 2
    return plan


def kernel_source(name="_attend_tile"):
    """The Python source of one of the kernel's functions, "_attend_tile" or "_flash_forward_kernel"."""
    if name not in ("_attend_tile", "_flash_forward_kernel"):
        raise ValueError(f"name must be '_attend_tile' or '_flash_forward_kernel', got {name!r}")
    fn = globals()[name]
    return inspect.getsource(getattr(fn, "fn", fn))  # a JIT-compiled function keeps the Python one as .fn


def _interpreter_state():
    """(interpreted, problem): whether kernels run in Triton's interpreter, and why they cannot run at all."""
    if triton is None:
        return False, None
    knobs = getattr(triton, "knobs", None)  # Triton >= 3.4 reads its environment variables through knobs
    interpret = bool(knobs.runtime.interpret) if knobs is not None else os.environ.get("TRITON_INTERPRET") == "1"
    # tl.zeros, tl.max, ... are themselves Triton functions, made interpreted or compiled when triton is
    # imported: the variable must be set before that, or interpreted kernels would call compiled helpers.
    helpers_interpreted = type(tl.zeros).__name__ == "InterpretedFunction"
    if interpret != helpers_interpreted:
        return interpret, ("TRITON_INTERPRET was changed after triton was imported; Triton reads it when it is "
                           "imported, so set it first: os.environ['TRITON_INTERPRET'] = '1', then import triton "
                           "and attn_course.triton_attention (in a fresh Python process)")
    return interpret, None


# Decided once, at import: Triton makes a decorated function a GPU kernel, or an interpreted one when
# TRITON_INTERPRET=1 was set before triton was imported (then it runs on CPU tensors, in NumPy).
INTERPRETED, _MODE_PROBLEM = _interpreter_state()


# ---------------------------------------------------------------------------------------------------
# The kernel. Comments starting with "NumPy:" quote the matching line of attn_course.flash: tiled_attention
# cuts the queries into blocks and calls query_block on each; the kernel's i0 is query_block's first_query.
# Names are NumPy's: j0, qi, s, m, l, acc, p, alpha, offset, k_end. Tiles are (BLOCK_M, BLOCK_N) where
# NumPy's are (block_size, block_size); m, l and acc are float32 whatever the input type.

def _attend_tile(qi, m, l, acc, K, V, stride_kn, stride_vn, j0, rows, n_k, offset, qk_scale,
                 HEAD_DIM: tl.constexpr, BLOCK_N: tl.constexpr, MASKED: tl.constexpr,
                 CAUSAL: tl.constexpr, DOT_PRECISION: tl.constexpr):
    """One tile of keys j0 .. j0 + BLOCK_N: NumPy's inner loop body. Returns the updated (m, l, acc)."""
    cols = j0 + tl.arange(0, BLOCK_N)                           # key positions of this tile
    dims = tl.arange(0, HEAD_DIM)
    in_range = cols < n_k                                        # the last tile may run past the keys
    if MASKED:
        kT = tl.load(K + cols[None, :] * stride_kn + dims[:, None], mask=in_range[None, :], other=0.0)
        v = tl.load(V + cols[:, None] * stride_vn + dims[None, :], mask=in_range[:, None], other=0.0)
    else:  # a tile that lies wholly inside the keys and below the diagonal needs no mask
        kT = tl.load(K + cols[None, :] * stride_kn + dims[:, None])   # (HEAD_DIM, BLOCK_N): k tile, transposed
        v = tl.load(V + cols[:, None] * stride_vn + dims[None, :])    # (BLOCK_N, HEAD_DIM)
    # NumPy: s = qi @ np.swapaxes(k[..., j0:j0 + block_size, :], -1, -2)
    s = tl.dot(qi, kT, input_precision=DOT_PRECISION) * qk_scale    # (BLOCK_M, BLOCK_N), float32
    if MASKED:
        # NumPy: if causal and j0 + s.shape[-1] - 1 > first_query + offset: ... s = np.where(cols <= rows, s, -np.inf)
        visible = in_range[None, :]
        if CAUSAL:
            visible = visible & (cols[None, :] <= rows[:, None] + offset)
        s = tl.where(visible, s, float("-inf"))
    m_new = tl.maximum(m, tl.max(s, 1))                         # NumPy: m_new = np.maximum(m, s.max(axis=-1, ...))
    safe = tl.where(m_new == float("-inf"), 0.0, m_new)         # NumPy: safe = np.where(np.isfinite(m_new), m_new, 0)
    p = tl.exp2(s - safe[:, None])                              # NumPy: p = np.exp(np.subtract(s, safe, out=s), out=s)
    alpha = tl.exp2(m - safe)                                   # NumPy: alpha = np.exp(m - safe)
    l = alpha * l + tl.sum(p, 1)                                # NumPy: l = alpha * l + p.sum(axis=-1, ...)
    # NumPy: acc = alpha * acc + p @ v[..., j0:j0 + block_size, :]   (p in v's type: the tensor cores' input)
    acc = alpha[:, None] * acc + tl.dot(p.to(v.dtype), v, input_precision=DOT_PRECISION)
    return m_new, l, acc                                        # NumPy: m = m_new


def _flash_forward_kernel(Q, K, V, Out,
                          stride_qb, stride_qh, stride_qn, stride_kb, stride_kh, stride_kn,
                          stride_vb, stride_vh, stride_vn, stride_ob, stride_oh, stride_on,
                          n_heads, n_q, n_k, qk_scale,
                          HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                          CAUSAL: tl.constexpr, DOT_PRECISION: tl.constexpr):
    """One program: queries i0 .. i0 + BLOCK_M of one (batch, head). NumPy's query_block."""
    # NumPy: one query_block(q[..., i0:i0 + block_size, :], ...) for each i0 in range(0, n_q, block_size);
    # here each i0 is a program of its own, and the GPU runs them side by side
    i0 = tl.program_id(0) * BLOCK_M
    bh = tl.program_id(1).to(tl.int64)                          # which (batch, head); int64: big tensors
    b, h = bh // n_heads, bh % n_heads
    Q += b * stride_qb + h * stride_qh                           # this head's (n, d) matrices
    K += b * stride_kb + h * stride_kh
    V += b * stride_vb + h * stride_vh
    Out += b * stride_ob + h * stride_oh

    rows = i0 + tl.arange(0, BLOCK_M)                           # query positions of this block
    dims = tl.arange(0, HEAD_DIM)
    # NumPy: qi = qi * scale   (here the scale multiplies the scores instead, in float32)
    qi = tl.load(Q + rows[:, None] * stride_qn + dims[None, :], mask=rows[:, None] < n_q, other=0.0)
    m = tl.full([BLOCK_M], float("-inf"), tl.float32)            # NumPy: m = np.full(..., -np.inf)
    l = tl.zeros([BLOCK_M], tl.float32)                          # NumPy: l = np.zeros(...)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], tl.float32)              # NumPy: acc = np.zeros(...)

    offset = n_k - n_q                                           # NumPy: offset = n_k - n_q
    if CAUSAL:
        # NumPy: k_end = min(n_k, first_query + b_q + offset)   the last query's last visible key, plus one
        k_end = tl.minimum(n_k, tl.minimum(i0 + BLOCK_M, n_q) + offset)
        k_full = tl.minimum(n_k, i0 + 1 + offset)                # keys before this are seen by every query
    else:
        k_end = n_k
        k_full = n_k
    # NumPy's single loop `for j0 in range(0, k_end, block_size)`, split in two so that only the tiles
    # that cross the diagonal or the end of the keys pay for a mask: whole tiles first, then the rest.
    k_full = tl.maximum(k_full, 0) // BLOCK_N * BLOCK_N
    for j0 in range(0, k_full, BLOCK_N):
        m, l, acc = _attend_tile(qi, m, l, acc, K, V, stride_kn, stride_vn, j0, rows, n_k, offset, qk_scale,
                                 HEAD_DIM, BLOCK_N, False, CAUSAL, DOT_PRECISION)
    for j0 in range(k_full, k_end, BLOCK_N):
        m, l, acc = _attend_tile(qi, m, l, acc, K, V, stride_kn, stride_vn, j0, rows, n_k, offset, qk_scale,
                                 HEAD_DIM, BLOCK_N, True, CAUSAL, DOT_PRECISION)

    # NumPy: return np.divide(acc, l, out=np.zeros_like(acc), where=l > 0)
    out = acc / tl.where(l > 0, l, 1.0)[:, None]                 # a query with no key keeps acc = 0
    tl.store(Out + rows[:, None] * stride_on + dims[None, :], out.to(Out.dtype.element_ty),
             mask=rows[:, None] < n_q)


if triton is not None:
    _attend_tile = triton.jit(_attend_tile)
    _flash_forward_kernel = triton.jit(_flash_forward_kernel)

# On a GPU, the tile sizes and the number of warps are chosen by timing a few candidates for each shape
# (triton.autotune). They suit an H100 or A100: BLOCK_M queries x BLOCK_N keys per step, and enough warps
# and pipeline stages to keep the tensor cores fed while the next tile of k and v is loaded.
_GPU_CONFIGS = [(128, 64, 4, 3), (128, 64, 8, 3), (128, 128, 8, 3), (128, 32, 4, 4), (64, 64, 4, 3), (64, 32, 4, 4)]
_tuned_kernel = None
if triton is not None and not INTERPRETED:
    _tuned_kernel = triton.autotune(
        configs=[triton.Config({"BLOCK_M": bm, "BLOCK_N": bn}, num_warps=w, num_stages=s)
                 for bm, bn, w, s in _GPU_CONFIGS],
        key=["n_q", "n_k", "HEAD_DIM", "CAUSAL"])(_flash_forward_kernel)


# ---------------------------------------------------------------------------------------------------
# The wrapper: checks, then one launch.

def _require_triton():
    if torch is None:
        raise ImportError("flash_attention needs PyTorch, which is not installed: pip install torch")
    if triton is None:
        raise ImportError(f"flash_attention needs Triton, which could not be imported ({_MISSING}). Triton has "
                          "wheels for Linux only: pip install triton (the version your torch names). "
                          "The NumPy version, attn_course.flash.tiled_attention, runs everywhere.")
    if _MODE_PROBLEM is not None:
        raise RuntimeError(_MODE_PROBLEM)


def supported_dtypes():
    """The input types flash_attention accepts here: bfloat16 only on a GPU (the interpreter's NumPy lacks it)."""
    _require_triton()
    return (torch.float16, torch.float32) if INTERPRETED else (torch.float16, torch.bfloat16, torch.float32)


def _check_inputs(q, k, v, block_size):
    named = {"q": q, "k": k, "v": v}
    for name, x in named.items():
        if not isinstance(x, torch.Tensor):
            hint = "; for NumPy arrays use attn_course.flash.tiled_attention" if hasattr(x, "__array__") else ""
            raise TypeError(f"{name} must be a torch.Tensor of shape (batch, heads, n, d), "
                            f"got {type(x).__name__}{hint}")
        if x.ndim != 4:
            raise ValueError(f"{name} must have shape (batch, heads, n, d), 4 dimensions; got shape {tuple(x.shape)}")
    if len({q.dtype, k.dtype, v.dtype}) > 1:
        raise TypeError(f"q, k and v must share one dtype, got q: {q.dtype}, k: {k.dtype}, v: {v.dtype}")
    if q.dtype not in supported_dtypes():
        why = (" (bfloat16 runs on a GPU; Triton's interpreter, used here because there is no GPU, has no bfloat16)"
               if q.dtype == torch.bfloat16 else "")
        names = ", ".join(str(t) for t in supported_dtypes())
        raise TypeError(f"dtype {q.dtype} is not supported: expected one of {names}{why}")
    if len({q.device, k.device, v.device}) > 1:
        raise ValueError(f"q, k and v must be on one device, got q: {q.device}, k: {k.device}, v: {v.device}")
    if not INTERPRETED and q.device.type != "cuda":
        raise ValueError(f"the kernel is compiled for the GPU but the tensors are on {q.device}: move them with "
                         ".cuda(), or run it in Triton's interpreter on the CPU: set TRITON_INTERPRET=1 before "
                         "the first `import triton` (in a fresh Python process)")
    if not (q.shape[:2] == k.shape[:2] == v.shape[:2]):
        raise ValueError(f"q, k and v must have the same (batch, heads), got q {tuple(q.shape[:2])}, "
                         f"k {tuple(k.shape[:2])}, v {tuple(v.shape[:2])} (no broadcasting: expand them first)")
    if k.shape[2] != v.shape[2]:
        raise ValueError(f"k and v must have one value per key: k has {k.shape[2]} keys (shape {tuple(k.shape)}), "
                         f"v has {v.shape[2]} values (shape {tuple(v.shape)})")
    if not (q.shape[3] == k.shape[3] == v.shape[3]):
        raise ValueError(f"q, k and v must share the head dimension d (this kernel needs d_v = d_k), got "
                         f"q {q.shape[3]}, k {k.shape[3]}, v {v.shape[3]}")
    if q.shape[3] not in HEAD_DIMS:
        raise ValueError(f"head dimension d = {q.shape[3]} is not supported: expected one of {HEAD_DIMS} (a tile "
                         "holds a whole head, so d must be a power of two, at least 16 for the tensor cores); "
                         "pad the heads with zeros to the next supported size")
    if torch.is_grad_enabled() and any(x.requires_grad for x in named.values()):
        raise RuntimeError("flash_attention is the forward pass only and has no backward: call it under "
                           "torch.no_grad(), or train with torch.nn.functional.scaled_dot_product_attention")
    if block_size is not None:
        pair = (block_size, block_size) if isinstance(block_size, int) else block_size
        if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(b, int) for b in pair)):
            raise TypeError(f"block_size must be an int or a pair (BLOCK_M, BLOCK_N) of ints, got {block_size!r}")
        if not all(b >= 16 and b & (b - 1) == 0 for b in pair):
            raise ValueError(f"block_size must be a power of two >= 16, or a pair (BLOCK_M, BLOCK_N) of them, "
                             f"got {block_size!r}")
        return pair
    return None


def flash_attention(q, k, v, *, causal=False, scale=None, block_size=None):
    """softmax(q k^T * scale) v, computed tile by tile by the Triton kernel, never forming the n x n matrix.

    q: (batch, heads, n_q, d)  k: (batch, heads, n_k, d)  v: (batch, heads, n_k, d) -> (batch, heads, n_q, d)
    One dtype (float16, bfloat16 on a GPU, float32) and one device for all three; d in HEAD_DIMS.
    causal: query i may attend to key j <= i + (n_k - n_q), as attn_course.causal_mask (bottom-right
    aligned; torch's is_causal=True aligns top-left; the two agree when n_q == n_k). A query with no key
    to attend to gets a zero output. scale: default 1/sqrt(d).
    block_size: the tiles, BLOCK_M queries by BLOCK_N keys: one int for square tiles (as tiled_attention's
    block_size) or a pair; default chosen by autotuning on a GPU, INTERPRETER_BLOCK otherwise.
    """
    _require_triton()
    block = _check_inputs(q, k, v, block_size)
    batch, heads, n_q, d = q.shape
    n_k = k.shape[2]
    scale = 1.0 / math.sqrt(d) if scale is None else positive(scale, "scale")
    q, k, v = (x if x.stride(-1) == 1 else x.contiguous() for x in (q, k, v))  # rows of d numbers, contiguous
    out = torch.zeros(q.shape, dtype=q.dtype, device=q.device)
    if n_q == 0 or n_k == 0:
        return out  # no query, or no key to attend to: zero outputs, as in the NumPy version
    args = (q, k, v, out, *q.stride()[:3], *k.stride()[:3], *v.stride()[:3], *out.stride()[:3],
            heads, n_q, n_k, float(scale) * math.log2(math.e))  # exp(x) = 2^(x log2 e): base-2 scores
    constants = dict(HEAD_DIM=d, CAUSAL=bool(causal), DOT_PRECISION="ieee" if q.dtype == torch.float32 else "tf32")
    if _tuned_kernel is not None and block is None:
        grid = lambda meta: launch_grid(batch, heads, n_q, meta["BLOCK_M"])
        with torch.cuda.device(q.device):
            _tuned_kernel[grid](*args, **constants)
        return out
    block_m, block_n = block or INTERPRETER_BLOCK
    grid = launch_grid(batch, heads, n_q, block_m)
    if INTERPRETED:
        _flash_forward_kernel[grid](*args, BLOCK_M=block_m, BLOCK_N=block_n, **constants)
    else:
        with torch.cuda.device(q.device):
            _flash_forward_kernel[grid](*args, BLOCK_M=block_m, BLOCK_N=block_n, num_warps=4, num_stages=2,
                                        **constants)
    return out
