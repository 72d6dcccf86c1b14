"""Checkers for the exercises of chapter 8 (what attention costs, and FlashAttention's tiling).

    check_matrix_bytes(fn)         fn(n, heads, batch, dtype) -> bytes of the (batch, heads, n, n) weights
    check_online_softmax_step(fn)  fn(m, l, acc, s, v) -> (m_new, l_new, acc_new): one block of the online softmax
    check_query_block(fn)          fn(q_block, k, v, block_size) -> output of one block of queries, reading
                                   k and v one block of rows at a time (FlashAttention's inner loop)

NumPy only. The references: matrix_bytes, online_softmax_step, and attend_block (the package's
attn_course.flash.query_block); each checker also models the typical wrong answers it recognises.
"""
import numpy as np

from ..attention import scaled_dot_product_attention
from ..flash import query_block
from .feedback import Feedback, call
from .registry import Exercise


# ---------------------------------------------------------------------------------------------------
# Exercise 8.1: the memory of the attention weights

# Chosen so that no two mistakes give the same number on the first case that exposes them
# (e.g. forgetting batch = 3 is not dividing by itemsize = 8).
_BYTES_CASES = [(1024, 1, 1, "float32"), (300, 6, 3, "float64"), (4096, 12, 2, "float16"), (2048, 16, 4, "float32")]


def matrix_bytes(n, heads, batch, dtype):
    """The reference: batch * heads * n * n numbers of np.dtype(dtype).itemsize bytes each."""
    return batch * heads * n * n * np.dtype(dtype).itemsize


def check_matrix_bytes(fn):
    """Check `fn(n, heads, batch, dtype) -> int`: the bytes that the attention weights of shape
    (batch, heads, n, n) take in memory, for dtype a NumPy dtype name such as "float32"."""
    for n, heads, batch, dtype in _BYTES_CASES:
        answer, error = call(fn, n, heads, batch, dtype)
        if error is not None:
            return error
        right = matrix_bytes(n, heads, batch, dtype)
        try:
            got = float(answer)
        except (TypeError, ValueError):
            return Feedback(False, f"return a number of bytes, got {type(answer).__name__}")
        if got == right:
            continue
        size, case = np.dtype(dtype).itemsize, f"for n = {n}, heads = {heads}, batch = {batch}, {dtype}"
        if np.isclose(got, right / 2**20):
            return Feedback(False, f"{case} you returned {got:g}, the size in MiB; return bytes (do not divide by 2**20)")
        if np.isclose(got, 8 * right):
            return Feedback(False, f"{case} you returned {got:g}: that counts bits; a {dtype} number takes {size} "
                                   f"bytes ({8 * size} bits)")
        if np.isclose(got, right / size):
            return Feedback(False, f"{case} you returned {got:g}, the number of weights; multiply by the bytes per "
                                   f"number, np.dtype(dtype).itemsize = {size}")
        if np.isclose(got, batch * heads * n * size):
            return Feedback(False, f"{case} you returned {got:g}, which grows linearly in n; the weights have one "
                                   "number per (query, key) pair: n * n of them per head")
        if np.isclose(got, right / (batch * heads)):
            return Feedback(False, f"{case}: every head of every sequence in the batch has its own n x n matrix; "
                                   f"multiply by heads * batch = {heads * batch}")
        if np.isclose(got, right / heads):
            return Feedback(False, f"{case}: each of the {heads} heads has its own n x n matrix; multiply by heads")
        if np.isclose(got, right / batch):
            return Feedback(False, f"{case}: each of the {batch} sequences in the batch has its own matrices; "
                                   "multiply by batch")
        if any(np.isclose(got, right / size * other) for other in (2, 4, 8) if other != size):
            return Feedback(False, f"{case} the bytes per number are wrong: {dtype} takes {size} bytes; use "
                                   "np.dtype(dtype).itemsize instead of a fixed number")
        return Feedback(False, f"{case} expected {right} bytes (batch * heads * n * n * {size}), got {got:g}")
    return Feedback(True, "correct: batch * heads * n² numbers of itemsize bytes each; at n = 4096 with 12 heads "
                          "and a batch of 2 in float16 that is already "
                          f"{matrix_bytes(4096, 12, 2, 'float16') / 2**30:g} GiB, for ONE layer")


# ---------------------------------------------------------------------------------------------------
# Exercise 8.2: one step of the online softmax

def online_softmax_step(m, l, acc, s, v, *, rescale_l=True, rescale_acc=True, inverted=False,
                        keep_old_max=True, normalise=False):
    """The reference step (all flags at their defaults) and its typical wrong variants.
    m, l: floats; acc: (d_v,); s: (b,) new scores; v: (b, d_v) new values."""
    m_new = max(m, float(np.max(s))) if keep_old_max else float(np.max(s))
    alpha = np.exp(m_new - m) if inverted else np.exp(m - m_new)  # exp(-inf) = 0 on the first block
    p = np.exp(s - m_new)
    l_new = (alpha if rescale_l else 1.0) * l + p.sum()
    acc_new = (alpha if rescale_acc else 1.0) * acc + p @ v
    if normalise:
        acc_new = acc_new / l_new
    return m_new, l_new, acc_new


def _online_case(seed=0, d_v=3):
    """Four blocks of scores for one query: the maximum rises (block 2), falls back (block 3), rises a lot (4)."""
    rng = np.random.default_rng(seed)
    s = [rng.normal(0.0, 1.0, 4), rng.normal(3.0, 1.0, 4), rng.normal(-1.0, 1.0, 3), rng.normal(6.0, 1.0, 4)]
    v = [rng.standard_normal((len(block), d_v)) for block in s]
    return s, v


def _state(result):
    """(m, l, acc) as floats and an array, or None when `result` is not such a triple."""
    if not (isinstance(result, tuple) and len(result) == 3):
        return None
    try:
        return float(result[0]), float(result[1]), np.asarray(result[2], dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _same(a, b, equal_nan=False):
    """Two states (m, l, acc) equal up to rounding (NaN equal to NaN only when asked: a wrong variant's NaN)."""
    return a is not None and b is not None and np.isclose(a[0], b[0]) \
        and np.isclose(a[1], b[1], rtol=1e-9, equal_nan=equal_nan) and a[2].shape == b[2].shape \
        and np.allclose(a[2], b[2], rtol=1e-9, atol=1e-12, equal_nan=equal_nan)


def check_online_softmax_step(fn):
    """Check `fn(m, l, acc, s, v) -> (m_new, l_new, acc_new)`, one block of FlashAttention's online softmax
    for one query: m the largest score so far (-inf before the first block), l = sum exp(s_j - m) and
    acc = sum exp(s_j - m) v_j over the keys so far; s: (b,) the new block's scores, v: (b, d_v) its values.
    After the last block, acc / l must be softmax(all scores) @ all values."""
    blocks, values = _online_case()
    state = (-np.inf, 0.0, np.zeros(values[0].shape[1]))
    for t, (s, v) in enumerate(zip(blocks, values), start=1):
        result, error = call(fn, state[0], state[1], state[2].copy(), s.copy(), v.copy())
        if error is not None:
            return Feedback(False, f"block {t}: {error.message}")
        got = _state(result)
        if got is None:
            return Feedback(False, f"expected a triple (m_new, l_new, acc_new), got {type(result).__name__}")
        right = online_softmax_step(*state, s, v)
        if got[2].shape != right[2].shape:
            return Feedback(False, f"acc_new has shape {got[2].shape}, expected (d_v,) = {right[2].shape}: the running "
                                   "sum of exp(s_j - m) v_j, one number per value dimension")
        if not _same(got, right):
            return Feedback(False, f"block {t}: " + _diagnose_step(got, state, s, v, right))
        state = right
    # Large scores: exp(1000) overflows float64 unless the running maximum is subtracted first.
    big = [1000.0 + blocks[0], 1000.0 + blocks[1]]
    state = (-np.inf, 0.0, np.zeros(values[0].shape[1]))
    for t in range(2):
        result, error = call(fn, state[0], state[1], state[2].copy(), big[t], values[t])
        if error is not None:
            return Feedback(False, f"with scores near 1000: {error.message}")
        got = _state(result)
        if got is None or not (np.isfinite(got[1]) and np.all(np.isfinite(got[2]))):
            return Feedback(False, "with scores near 1000 l or acc overflow to inf/NaN: take exp(s - m_new), not "
                                   "exp(s); every exponent is then <= 0")
        state = online_softmax_step(*state, big[t], values[t])
        if not _same(got, state):
            return Feedback(False, "with scores near 1000 the state is wrong: subtract the running maximum m_new "
                                   "inside every exp")
    return Feedback(True, "correct: m_new = max(m, max s), the old l and acc rescaled by exp(m - m_new), the new "
                          "block added with exp(s - m_new); acc / l at the end is the softmax-weighted sum")


def _diagnose_step(got, state, s, v, right):
    """What is wrong with one step, judged against the typical wrong variants."""
    m, l, acc = state
    variants = [
        (dict(rescale_l=False, rescale_acc=False),
         "the old l and acc are not rescaled: when the maximum rises from m to m_new, everything accumulated so "
         "far was exp(s_j - m) and must become exp(s_j - m_new): multiply l and acc by exp(m - m_new)"),
        (dict(rescale_acc=False),
         "l is rescaled but acc is not: multiply the old acc by exp(m - m_new) too"),
        (dict(rescale_l=False),
         "acc is rescaled but l is not: multiply the old l by exp(m - m_new) too"),
        (dict(inverted=True),
         "the rescale factor is upside down: it is exp(m - m_new) (at most 1, the old terms shrink), "
         "not exp(m_new - m)"),
        (dict(keep_old_max=False),
         "m_new must be the largest score seen SO FAR, max(m, max(s)), not the maximum of this block alone"),
        (dict(normalise=True),
         "acc_new is already divided by l_new; keep acc unnormalised (sum exp(s_j - m) v_j) and divide only once, "
         "after the last block"),
    ]
    for flags, message in variants:
        try:
            with np.errstate(all="ignore"):
                wrong = online_softmax_step(m, l, acc, s, v, **flags)
        except Exception:  # noqa: BLE001  a variant that cannot run on this state does not match
            continue
        if _same(got, wrong, equal_nan=True):
            return message
    if not np.isclose(got[0], right[0]):
        return f"m_new = {got[0]:g}, expected max(m, max(s)) = {right[0]:g}"
    if np.isclose(got[1], right[1], rtol=1e-9):
        return "m_new and l_new are right but acc_new is not: acc_new = exp(m - m_new) acc + exp(s - m_new) @ v"
    return (f"l_new = {got[1]:.6g}, expected exp(m - m_new) l + sum exp(s - m_new) = {right[1]:.6g}")


# ---------------------------------------------------------------------------------------------------
# Exercise 8.3: tiled attention for one block of queries

class BlockReader:
    """An (n, d) array that may be read only `block_size` rows at a time, as FlashAttention reads K and V from
    the GPU's large, slow memory one tile at a time. `x[j:j + block_size]` returns those rows (a NumPy array);
    `len(x)` and `x.shape` work; using x whole (x.T, x @ ..., np.asarray(x)) raises a TypeError that says so."""

    def __init__(self, array, block_size, name):
        self._array, self._block, self._name = np.asarray(array), block_size, name
        self.shape, self.ndim, self.dtype = self._array.shape, self._array.ndim, self._array.dtype
        self.rows_read = 0

    def __len__(self):
        return len(self._array)

    def __getitem__(self, index):
        index = index if isinstance(index, tuple) else (index,)
        if any(i is Ellipsis for i in index):  # x[..., j:j + b, :]: spell the Ellipsis out
            at = next(n for n, i in enumerate(index) if i is Ellipsis)
            index = index[:at] + (slice(None),) * (self.ndim - len(index) + 1) + index[at + 1:]
        first = index[0]  # the rows asked for
        n_rows = len(np.arange(len(self._array))[first]) if not isinstance(first, (int, np.integer)) else 1
        if n_rows > self._block:
            raise IndexError(f"{self._name}[...] asked for {n_rows} rows at once; read at most block_size = "
                             f"{self._block} rows at a time, {self._name}[j:j + block_size]")
        self.rows_read += n_rows
        return self._array[index].copy()

    def _whole(self, *args, **kwargs):
        raise TypeError(f"{self._name} may not be used whole (that is the n x n matrix of scores FlashAttention "
                        f"avoids): read it one block of rows at a time, {self._name}[j:j + block_size]")

    __array__ = _whole
    __iter__ = _whole

    @property
    def T(self):
        self._whole()

    def __repr__(self):
        return f"BlockReader({self._name}: shape {self.shape}, read {self._block} rows at a time)"


def attend_block(q_block, k, v, block_size):
    """The reference: the package's query_block, which reads k and v block_size rows at a time.
    q_block: (b_q, d); k: (n, d); v: (n, d_v) -> (b_q, d_v)."""
    return query_block(q_block, k, v, scale=1 / np.sqrt(q_block.shape[-1]), block_size=block_size, dtype=np.float64)


def query_block_attention(q_block, k, v, block_size, *, rescale=True, divide=True, scale=None):
    """The online softmax over blocks of keys, right (the defaults) or with one of the typical mistakes."""
    scale = 1 / np.sqrt(q_block.shape[-1]) if scale is None else scale
    m = np.full((len(q_block), 1), -np.inf)
    l = np.zeros((len(q_block), 1))
    acc = np.zeros((len(q_block), v.shape[-1]))
    for j in range(0, len(k), block_size):
        s = q_block @ k[j:j + block_size].T * scale
        m_new = np.maximum(m, s.max(axis=-1, keepdims=True))
        alpha = np.exp(m - m_new) if rescale else 1.0
        p = np.exp(s - m_new)
        l = alpha * l + p.sum(axis=-1, keepdims=True)
        acc = alpha * acc + p @ v[j:j + block_size]
        m = m_new
    return acc / l if divide else acc


def _plain(q, k, v):
    """Attention computed whole: what the tiles must add up to."""
    return scaled_dot_product_attention(q, k, v)[0]


def _block_case(seed=0, b_q=3, n=10, d=4, d_v=2, spread=1.0):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((b_q, d))
    k = rng.standard_normal((n, d)) + spread * np.linspace(-2, 2, n)[:, None]  # the maximum moves between blocks
    return q, k, rng.standard_normal((n, d_v))


def check_query_block(fn):
    """Check `fn(q_block, k, v, block_size) -> (b_q, d_v)`: scaled dot-product attention of a block of queries
    q_block: (b_q, d) over n keys k: (n, d) and values v: (n, d_v), computed with the online softmax while
    reading k and v only `block_size` rows at a time (the checker hands them over as BlockReaders)."""
    for n, block_size, spread in [(10, 4, 1.0), (12, 3, 1.0), (7, 7, 0.0), (9, 2, 1.0)]:
        q, k, v = _block_case(n=n, spread=spread, seed=n)
        k_reader, v_reader = BlockReader(k, block_size, "k"), BlockReader(v, block_size, "v")
        result, error = call(fn, q, k_reader, v_reader, block_size)
        case = f"n = {n} keys in blocks of {block_size}"
        if error is not None:
            return Feedback(False, f"{case}: {error.message}")
        out = np.asarray(result, dtype=np.float64)
        if out.shape != (len(q), v.shape[1]):
            return Feedback(False, f"{case}: the output has shape {out.shape}, expected (b_q, d_v) = "
                                   f"{(len(q), v.shape[1])}: one value-sized row per query")
        for reader in (k_reader, v_reader):
            if reader.rows_read < n:
                return Feedback(False, f"{case}: only {reader.rows_read} of the {n} rows of {reader._name} were read. "
                                       f"Loop over range(0, n, block_size): the last block may be shorter "
                                       f"({n % block_size or block_size} rows here)")
        right = _plain(q, k, v)
        if np.allclose(out, right, atol=1e-9):
            continue
        if not np.all(np.isfinite(out)):
            return Feedback(False, f"{case}: the output contains NaN or inf on ordinary scores")
        for flags, message in [
            (dict(rescale=False), "the running sums are not rescaled: when a block raises the maximum from m to "
                                  "m_new, multiply the old l and acc by exp(m - m_new)"),
            (dict(divide=False), "the output is the unnormalised acc: divide by l, the running denominator, "
                                 "after the last block"),
            (dict(scale=1.0), f"the scores are not scaled: multiply q @ k_block.T by 1 / sqrt(d) = "
                              f"{1 / np.sqrt(q.shape[1]):g}"),
            (dict(rescale=False, divide=False), "the running sums are neither rescaled by exp(m - m_new) when the "
                                                "maximum rises, nor divided by l at the end"),
        ]:
            if np.allclose(out, query_block_attention(q, k, v, block_size, **flags), atol=1e-9):
                return Feedback(False, f"{case}: {message}")
        return Feedback(False, f"{case}: the output differs from softmax(q k^T / sqrt(d)) v by up to "
                               f"{np.abs(out - right).max():.3g}")

    q, k, v = _block_case(seed=1, n=8)
    q, k = 40.0 * q, 40.0 * k  # scores in the thousands: exp overflows unless the maximum is subtracted
    result, error = call(fn, q, BlockReader(k, 4, "k"), BlockReader(v, 4, "v"), 4)
    if error is not None:
        return Feedback(False, f"with large scores: {error.message}")
    out = np.asarray(result, dtype=np.float64)
    if not np.all(np.isfinite(out)):
        return Feedback(False, "with scores in the thousands the output is NaN/inf: exponentiate s - m_new, with "
                               "m_new the running maximum, never s itself")
    if not np.allclose(out, _plain(q, k, v), atol=1e-9):
        return Feedback(False, "with large scores the output is wrong, though finite: check the running maximum")
    return Feedback(True, "correct: each block of keys read once, its scores folded into the running max, "
                          "denominator and numerator, and one division at the end; the n x n matrix never exists")


EXERCISES = [
    Exercise(checker=check_matrix_bytes, reference="attn_course.exercises.efficiency.matrix_bytes",
             chapter="08_efficiency", solution="weights_bytes"),
    Exercise(checker=check_online_softmax_step, reference="attn_course.exercises.efficiency.online_softmax_step",
             chapter="08_efficiency", solution="online_step"),
    Exercise(checker=check_query_block, reference="attn_course.exercises.efficiency.attend_block",
             chapter="08_efficiency", solution="attend_block"),
]
