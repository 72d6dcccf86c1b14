"""Checkers for the exercises of chapter 8 (what attention costs, and FlashAttention's tiling).

    check_matrix_bytes(fn)         fn(n, heads, batch, dtype) -> bytes of the (batch, heads, n, n) weights
    check_online_softmax_step(fn)  fn(m, l, acc, s, v) -> (m_new, l_new, acc_new): one block of the online softmax
    check_query_block(fn)          fn(q_block, k, v, block_size) -> output of one block of queries, reading
                                   k and v one block of rows at a time (FlashAttention's inner loop)
    check_rescale_prediction(rescales)  predict: the factors exp(m - m_new) of three blocks of the online softmax
    check_merge_states(fn)         derive: fn(a, b) -> the online-softmax state over two disjoint sets of keys
    check_causal_tiled(fn)         hard: fn(q, k, v, block_size) -> causal tiled attention that skips the
                                   tiles above the diagonal

NumPy only. The references: matrix_bytes, online_softmax_step, and attend_block (the package's
attn_course.flash.query_block); each checker also models the typical wrong answers it recognises.
"""
import numpy as np

from ..attention import scaled_dot_product_attention
from ..flash import query_block
from .feedback import Feedback, call, checker, fail, not_written
from .registry import Exercise, Mistake


# ---------------------------------------------------------------------------------------------------
# Exercise 8.1: the memory of the attention weights

# Chosen so that no two mistakes give the same number on the first case that exposes them
# (e.g. forgetting batch = 3 is not dividing by itemsize = 8).
_BYTES_CASES = [(1024, 1, 1, "float32"), (300, 6, 3, "float64"), (4096, 12, 2, "float16"), (2048, 16, 4, "float32")]


def matrix_bytes(n, heads, batch, dtype):
    """The reference: batch * heads * n * n numbers of np.dtype(dtype).itemsize bytes each."""
    return batch * heads * n * n * np.dtype(dtype).itemsize


@checker
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
            return fail(f"expected a number of bytes, got {type(answer).__name__}: look at what you return",
                        "batch * heads * n * n * np.dtype(dtype).itemsize")
        if got == right:
            continue
        size, case = np.dtype(dtype).itemsize, f"for n = {n}, heads = {heads}, batch = {batch}, {dtype}"
        fix = "batch * heads * n * n * np.dtype(dtype).itemsize"
        if np.isclose(got, right / 2**20):
            return fail(f"{case} you returned {got:g}, the size in MiB: look at the unit", "the exercise asks for "
                        "bytes", "do not divide by 2**20: " + fix)
        if np.isclose(got, 8 * right):
            return fail(f"{case} you returned {got:g}, 8 times too much: look at the unit",
                        f"that counts bits; a {dtype} number takes {size} bytes ({8 * size} bits)", fix)
        if np.isclose(got, right / size):
            return fail(f"{case} you returned {got:g}, the number of weights: look at the size of one number",
                        f"multiply by the bytes per number, np.dtype(dtype).itemsize = {size}", fix)
        if np.isclose(got, batch * heads * n * size):
            return fail(f"{case} you returned {got:g}, which grows linearly in n: look at how many weights one head has",
                        "one number per (query, key) pair: n * n of them per head", fix)
        if np.isclose(got, right / (batch * heads)):
            return fail(f"{case} you returned {got:g}, one n x n matrix: look at how many of them there are",
                        f"every head of every sequence in the batch has its own: heads * batch = {heads * batch}", fix)
        if np.isclose(got, right / heads):
            return fail(f"{case} you returned {got:g}: look at the heads",
                        f"each of the {heads} heads has its own n x n matrix", fix)
        if np.isclose(got, right / batch):
            return fail(f"{case} you returned {got:g}: look at the batch",
                        f"each of the {batch} sequences in the batch has its own matrices", fix)
        if any(np.isclose(got, right / size * other) for other in (2, 4, 8) if other != size):
            return fail(f"{case} the bytes per number are wrong: look at the dtype",
                        f"{dtype} takes {size} bytes", "np.dtype(dtype).itemsize instead of a fixed number: " + fix)
        return fail(f"{case} expected {right} bytes, got {got:g}: look at each factor",
                    "batch, heads, n queries, n keys, bytes per number", fix)
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


@checker
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
            return fail(f"block {t}: {error.message}", *error.hints)
        got = _state(result)
        if got is None:
            return fail(f"expected a triple (m_new, l_new, acc_new), got {type(result).__name__}: look at your return "
                        "line", "return m_new, l_new, acc_new")
        right = online_softmax_step(*state, s, v)
        if got[2].shape != right[2].shape:
            return fail(f"acc_new has shape {got[2].shape}, expected (d_v,) = {right[2].shape}: look at the product "
                        "that adds the new block", "acc is the running sum of exp(s_j - m) v_j, one number per value "
                        "dimension", "acc_new = exp(m - m_new) * acc + np.exp(s - m_new) @ v")
        if not _same(got, right):
            message, *hints = _diagnose_step(got, state, s, v, right)
            return fail(f"block {t}: {message}", *hints)
        state = right
    # Large scores: exp(1000) overflows float64 unless the running maximum is subtracted first.
    big = [1000.0 + blocks[0], 1000.0 + blocks[1]]
    state = (-np.inf, 0.0, np.zeros(values[0].shape[1]))
    for t in range(2):
        result, error = call(fn, state[0], state[1], state[2].copy(), big[t], values[t])
        if error is not None:
            return fail(f"with scores near 1000: {error.message}", *error.hints)
        got = _state(result)
        if got is None or not (np.isfinite(got[1]) and np.all(np.isfinite(got[2]))):
            return fail("with scores near 1000 l or acc overflow to inf/NaN: look at what you exponentiate",
                        "exp(1000) overflows float64", "take exp(s - m_new), not exp(s): every exponent is then <= 0")
        state = online_softmax_step(*state, big[t], values[t])
        if not _same(got, state):
            return fail("with scores near 1000 the state is wrong: look at the exponents",
                        "subtract the running maximum m_new inside every exp")
    return Feedback(True, "correct: m_new = max(m, max s), the old l and acc rescaled by exp(m - m_new), the new "
                          "block added with exp(s - m_new); acc / l at the end is the softmax-weighted sum")


def _diagnose_step(got, state, s, v, right):
    """What is wrong with one step, judged against the typical wrong variants: (message, *hints)."""
    m, l, acc = state
    fix = ("m_new = max(m, s.max()); alpha = np.exp(m - m_new); l_new = alpha * l + np.exp(s - m_new).sum(); "
           "acc_new = alpha * acc + np.exp(s - m_new) @ v")
    variants = [
        (dict(rescale_l=False, rescale_acc=False),
         ("the old l and acc are not rescaled: look at what happens to them when the maximum rises",
          "everything accumulated so far was exp(s_j - m) and must become exp(s_j - m_new)",
          "multiply l and acc by exp(m - m_new): " + fix)),
        (dict(rescale_acc=False), ("l is rescaled but acc is not: look at the old acc",
                                   "multiply the old acc by exp(m - m_new) too: " + fix)),
        (dict(rescale_l=False), ("acc is rescaled but l is not: look at the old l",
                                 "multiply the old l by exp(m - m_new) too: " + fix)),
        (dict(inverted=True),
         ("the rescale factor is upside down: look at whether the old terms shrink or grow",
          "it is at most 1: the old terms shrink when the maximum rises", "exp(m - m_new), not exp(m_new - m): " + fix)),
        (dict(keep_old_max=False),
         ("m_new is the maximum of this block alone: look at what m_new must remember",
          "m_new must be the largest score seen SO FAR", "max(m, max(s)): " + fix)),
        (dict(normalise=True),
         ("acc_new is already divided by l_new: look at when you normalise",
          "keep acc unnormalised (sum exp(s_j - m) v_j) and divide only once, after the last block", fix)),
    ]
    for flags, verdict in variants:
        try:
            with np.errstate(all="ignore"):
                wrong = online_softmax_step(m, l, acc, s, v, **flags)
        except Exception:  # noqa: BLE001  a variant that cannot run on this state does not match
            continue
        if _same(got, wrong, equal_nan=True):
            return verdict
    if not np.isclose(got[0], right[0]):
        return (f"m_new = {got[0]:g}, expected {right[0]:g}: look at the running maximum", "max(m, max(s))", fix)
    if np.isclose(got[1], right[1], rtol=1e-9):
        return ("m_new and l_new are right but acc_new is not: look at acc_new",
                "acc_new = exp(m - m_new) acc + exp(s - m_new) @ v")
    return (f"l_new = {got[1]:.6g}, expected {right[1]:.6g}: look at l_new",
            "l_new = exp(m - m_new) l + sum exp(s - m_new)", fix)


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


@checker
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
            whole = [name for name in ("k", "v") if f"{name} may not be used whole" in error.message]
            if whole:
                return fail(f"{case}: your function uses {whole[0]} whole, which builds the n x n matrix of scores "
                            "FlashAttention avoids: look at how you read k and v", "the checker hands them over as "
                            "readers that give block_size rows at a time", "for j in range(0, n, block_size): use "
                            "k[j:j + block_size] and v[j:j + block_size], with the online softmax")
            return fail(f"{case}: {error.message}", *error.hints)
        out = np.asarray(result, dtype=np.float64)
        if out.shape != (len(q), v.shape[1]):
            return fail(f"{case}: the output has shape {out.shape}, expected (b_q, d_v) = {(len(q), v.shape[1])}: "
                        "one value-sized row per query. Look at acc", "acc is (b_q, d_v), and l is (b_q, 1)",
                        "return acc / l")
        for reader in (k_reader, v_reader):
            if reader.rows_read < n:
                return fail(f"{case}: only {reader.rows_read} of the {n} rows of {reader._name} were read: look at "
                            "the range of your loop", f"the last block may be shorter ({n % block_size or block_size} "
                            "rows here)", "for j in range(0, n, block_size): k[j:j + block_size]")
        right = _plain(q, k, v)
        if np.allclose(out, right, atol=1e-9):
            continue
        if not np.all(np.isfinite(out)):
            return fail(f"{case}: the output contains NaN or inf on ordinary scores: look at the first block",
                        "m starts at -inf, and exp(-inf - m_new) = 0 is fine; exp(m_new - m) is not")
        for flags, (message, *hints) in [
            (dict(rescale=False), ("the running sums are not rescaled: look at what happens to l and acc when a "
                                   "block raises the maximum", "they hold exp(s - m) and must hold exp(s - m_new)",
                                   "multiply the old l and acc by exp(m - m_new)")),
            (dict(divide=False), ("the output is the unnormalised acc: look at the end",
                                  "acc sums exp(s - m) v; the softmax divides by the sum of exp(s - m)",
                                  "return acc / l, after the last block")),
            (dict(scale=1.0), ("the scores are not scaled: look at the scores of each block",
                               f"multiply q @ k_block.T by 1 / sqrt(d) = {1 / np.sqrt(q.shape[1]):g}")),
            (dict(rescale=False, divide=False), ("the running sums are neither rescaled nor divided: look at what "
                                                 "happens when the maximum rises, and at the end",
                                                 "rescale l and acc by exp(m - m_new) when the maximum rises",
                                                 "and return acc / l after the last block")),
        ]:
            if np.allclose(out, query_block_attention(q, k, v, block_size, **flags), atol=1e-9):
                return fail(f"{case}: {message}", *hints)
        return fail(f"{case}: the output differs from softmax(q k^T / sqrt(d)) v by up to "
                    f"{np.abs(out - right).max():.3g}: look at each update", "m_new = max(m, s.max(axis=-1)); "
                    "alpha = exp(m - m_new); l = alpha * l + p.sum(-1); acc = alpha * acc + p @ v_block")

    q, k, v = _block_case(seed=1, n=8)
    q, k = 40.0 * q, 40.0 * k  # scores in the thousands: exp overflows unless the maximum is subtracted
    result, error = call(fn, q, BlockReader(k, 4, "k"), BlockReader(v, 4, "v"), 4)
    if error is not None:
        return fail(f"with large scores: {error.message}", *error.hints)
    out = np.asarray(result, dtype=np.float64)
    if not np.all(np.isfinite(out)):
        return fail("with scores in the thousands the output is NaN/inf: look at what you exponentiate",
                    "exp overflows float64 past 709", "exponentiate s - m_new, with m_new the running maximum, never s")
    if not np.allclose(out, _plain(q, k, v), atol=1e-9):
        return fail("with large scores the output is wrong, though finite: look at the running maximum",
                    "m_new = max(m, s.max(axis=-1, keepdims=True)), carried from block to block")
    return Feedback(True, "correct: each block of keys read once, its scores folded into the running max, "
                          "denominator and numerator, and one division at the end; the n x n matrix never exists")


# ---------------------------------------------------------------------------------------------------
# Exercise 8.4 (predict): the rescaling factors of the online softmax

# One query's scores, in three blocks: the maximum is 2 after block 1, rises to 4 in block 2, and block 3
# (whose own maximum is 3) does not raise it.
PREDICT_BLOCKS = ([1.0, 2.0], [4.0, 0.0], [3.0, 3.0])


def rescale_factors(blocks=PREDICT_BLOCKS):
    """The factor exp(m - m_new) by which each block multiplies the sums accumulated before it."""
    m, factors = -np.inf, []
    for s in blocks:
        m_new = max(m, max(s))
        factors.append(float(np.exp(m - m_new)))  # exp(-inf) = 0 on the first block
        m = m_new
    return factors


RESCALES = rescale_factors()  # the reference prediction, computed as the online softmax computes it


@checker
def check_rescale_prediction(rescales):
    """Check a prediction: the list of the three factors exp(m - m_new) that the online softmax applies to
    its old sums l and acc at blocks 1, 2 and 3 of PREDICT_BLOCKS = [1, 2], [4, 0], [3, 3]."""
    if rescales is Ellipsis:
        return not_written("your prediction `rescales`", "the `...` after `rescales =`")
    try:
        got = np.asarray(rescales, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return Feedback(False, f"write the prediction as a list of three numbers, got {rescales!r}")
    if got.shape != (3,):
        return Feedback(False, f"predict one factor per block, three numbers; got {got.size}")
    right = np.array(rescale_factors())
    ok = np.isclose(got, right, rtol=0, atol=0.01)
    if ok.all():
        return Feedback(True, f"right: {', '.join(f'{r:.3f}' for r in right)}. Block 1 finds nothing to rescale "
                              "(m = -inf, exp(-inf) = 0), block 2 raises the maximum from 2 to 4 (exp(-2)), "
                              "block 3 does not raise it (exp(0) = 1)")
    t = int(np.argmin(ok))  # the first block predicted wrong
    if t == 0:
        return Feedback(False, f"block 1's factor is wrong ({got[0]:g}): what are m, l and acc before any block?",
                        hints=("before block 1, m = -inf and l = acc = 0: nothing has been accumulated",
                               "the factor is exp(m - m_new) = exp(-inf - 2) = 0"))
    if t == 1 and got[1] > 1:
        return Feedback(False, f"block 2's factor is above 1 ({got[1]:g}): can the old terms exp(s_j - m) grow "
                               "when the maximum rises?",
                        hints=("the factor turns exp(s_j - m) into exp(s_j - m_new); with m_new > m each term "
                               "shrinks",
                               "the factor is exp(m - m_new) = exp(2 - 4) = exp(-2) = 0.135, not exp(4 - 2)"))
    if t == 2:
        return Feedback(False, f"block 3's factor is wrong ({got[2]:g}): which maximum does block 3 compare with?",
                        hints=("m is the largest score seen SO FAR, over all blocks, not block 3's own maximum",
                               "after block 2 m = 4; block 3's scores (3, 3) do not raise it, so the factor "
                               "is exp(4 - 4) = 1"))
    return Feedback(False, f"block {t + 1}'s factor is wrong ({got[t]:g}): follow the running maximum m block "
                           "by block",
                    hints=("m after each block: 2, 4, 4", f"the factors: {', '.join(f'{r:.3f}' for r in right)}"))


# ---------------------------------------------------------------------------------------------------
# Exercise 8.5 (derive): merge two partial softmaxes

def merge_states(a, b):
    """The reference: the state (m, l, acc) over the union of two disjoint sets of keys, from the states
    a = (m_a, l_a, acc_a) and b = (m_b, l_b, acc_b) over each set. With m = max(m_a, m_b),
    sum_{j in A} exp(s_j - m) = exp(m_a - m) l_a, and the same for acc and for B."""
    (m_a, l_a, acc_a), (m_b, l_b, acc_b) = a, b
    m = max(m_a, m_b)
    alpha, beta = np.exp(m_a - m), np.exp(m_b - m)
    return m, alpha * l_a + beta * l_b, alpha * np.asarray(acc_a) + beta * np.asarray(acc_b)


def _partial_state(s, v):
    """(m, l, acc) of one query over the keys with scores s: (b,) and values v: (b, d_v), computed at once."""
    if len(s) == 0:
        return -np.inf, 0.0, np.zeros(v.shape[1])
    m = float(np.max(s))
    p = np.exp(s - m)
    return m, float(p.sum()), p @ v


@checker
def check_merge_states(fn):
    """Check `fn(a, b) -> (m, l, acc)`: a = (m_a, l_a, acc_a) and b = (m_b, l_b, acc_b) are the online-softmax
    states of one query over two disjoint sets of keys A and B (acc: (d_v,)); the result must be the state
    over A and B together, as if all the keys had been seen in one pass."""
    rng = np.random.default_rng(5)
    for case, (n_a, n_b, shift_b) in enumerate([(4, 5, 3.0), (6, 3, -2.0), (5, 5, 0.0), (3, 0, 0.0), (4, 4, 900.0)]):
        s = np.concatenate([rng.normal(0, 1, n_a), rng.normal(shift_b, 1, n_b)])
        v = rng.standard_normal((n_a + n_b, 3))
        a, b = _partial_state(s[:n_a], v[:n_a]), _partial_state(s[n_a:], v[n_a:])
        what = ("B's scores larger than A's" if shift_b > 0 else "A's scores larger than B's" if shift_b < 0
                else "B empty (m_b = -inf, l_b = 0)" if n_b == 0 else "scores of the same size")
        if shift_b > 100:
            what = "B's scores near 900"
        result, error = call(fn, (a[0], a[1], a[2].copy()), (b[0], b[1], b[2].copy()))
        if error is not None:
            return Feedback(False, f"{what}: {error.message}")
        got = _state(result)
        if got is None:
            return Feedback(False, f"expected a triple (m, l, acc), got {type(result).__name__}")
        right = _partial_state(s, v)
        if _same(got, right):
            continue
        if not (np.isfinite(got[1]) and np.all(np.isfinite(got[2]))):
            return Feedback(False, f"{what}: l or acc is inf or NaN. Which exponentials can overflow, or "
                                   "compute exp(-inf) - (-inf)?",
                            hints=("every factor must be exp(something <= 0): subtract the larger of the two "
                                   "maxima",
                                   "m = max(m_a, m_b); l = exp(m_a - m) l_a + exp(m_b - m) l_b, the same for acc"))
        if not np.isclose(got[0], right[0]):
            return Feedback(False, f"{what}: m = {got[0]:g}, but the largest score over A and B is {right[0]:g}",
                            hints=("m is the maximum over the union of the two sets", "m = max(m_a, m_b)"))
        if np.isclose(got[1], a[1] + b[1]):
            return Feedback(False, f"{what}: l is l_a + l_b, but l_a sums exp(s_j - m_a) and l_b sums "
                                   "exp(s_j - m_b): the two sums are in different units",
                            hints=("write exp(s_j - m) as exp(s_j - m_a) exp(m_a - m): each sum needs a factor "
                                   "to convert it to the common maximum m",
                                   "l = exp(m_a - m) l_a + exp(m_b - m) l_b, and acc the same way"))
        with np.errstate(all="ignore"):
            inverted = a[1] * np.exp(right[0] - a[0]) + b[1] * np.exp(right[0] - b[0])
        if np.isclose(got[1], inverted):
            return Feedback(False, f"{what}: the factors make the smaller state grow: can converting to a "
                                   "larger maximum make the terms larger?",
                            hints=("exp(s_j - m) <= exp(s_j - m_a) when m >= m_a: the factor is at most 1",
                                   "the factors are exp(m_a - m) and exp(m_b - m), not exp(m - m_a)"))
        if np.isclose(got[1], right[1], rtol=1e-9):
            return Feedback(False, f"{what}: m and l are right but acc is not: acc sums exp(s_j - m) v_j, in the "
                                   "same units as l",
                            hints=("acc_a and acc_b need the same conversion factors as l_a and l_b",
                                   "acc = exp(m_a - m) acc_a + exp(m_b - m) acc_b"))
        return Feedback(False, f"{what}: l = {got[1]:.6g}, expected {right[1]:.6g}, the sum of exp(s_j - m) over "
                               "all the keys",
                        hints=("derive it: sum over A of exp(s_j - m) = exp(m_a - m) sum over A of exp(s_j - m_a)",
                               "l = exp(m_a - m) l_a + exp(m_b - m) l_b with m = max(m_a, m_b)"))
    return Feedback(True, "correct: m = max(m_a, m_b), and each partial l and acc converted to the common "
                          "maximum by exp(m_a - m) or exp(m_b - m), then added; the keys can be split among "
                          "workers in any way, each state merged at the end")


# ---------------------------------------------------------------------------------------------------
# Exercise 8.6 (hard): causal tiled attention over the whole sequence

def causal_tiled(q, k, v, block_size):
    """The reference: the package's query_block, one block of queries at a time, causal.
    q: (n, d); k: (n, d); v: (n, d_v) -> (n, d_v)."""
    n, scale = len(q), 1 / np.sqrt(q.shape[-1])
    return np.concatenate([query_block(q[i:i + block_size], k, v, scale=scale, block_size=block_size, causal=True,
                                       first_query=i, n_q=n, dtype=np.float64) for i in range(0, n, block_size)])


def _causal_variant(q, k, v, block_size, *, skip=True, mask_diagonal=True, strict=False):
    """Causal tiled attention written out, right (the defaults) or with one of the typical mistakes."""
    n, d = q.shape
    out = np.zeros((n, v.shape[1]))
    for i in range(0, n, block_size):
        qi = q[i:i + block_size]
        rows = np.arange(i, i + len(qi))[:, None]
        m, l, acc = np.full((len(qi), 1), -np.inf), np.zeros((len(qi), 1)), np.zeros((len(qi), v.shape[1]))
        for j in range(0, min(n, i + len(qi)) if skip else n, block_size):
            s = qi @ k[j:j + block_size].T / np.sqrt(d)
            cols = np.arange(j, j + len(s[0]))[None, :]
            if mask_diagonal:
                s = np.where(cols < rows if strict else cols <= rows, s, -np.inf)
            m_new = np.maximum(m, s.max(axis=1, keepdims=True))
            safe = np.where(np.isfinite(m_new), m_new, 0)
            p, alpha = np.exp(s - safe), np.exp(m - safe)
            l, acc, m = alpha * l + p.sum(axis=1, keepdims=True), alpha * acc + p @ v[j:j + block_size], m_new
        out[i:i + len(qi)] = np.divide(acc, l, out=np.zeros_like(acc), where=l > 0)
    return out


@checker
def check_causal_tiled(fn):
    """Check `fn(q, k, v, block_size) -> (n, d_v)`: causal scaled dot-product attention (query i sees the keys
    j <= i) of q: (n, d) over k: (n, d) and v: (n, d_v), computed one block of queries at a time with the
    online softmax, reading k and v block_size rows at a time (BlockReaders), and never reading a tile of
    keys that no query of the block may see."""
    for n, block_size in [(10, 4), (12, 3), (7, 7), (9, 2)]:
        q, k, v = _block_case(n=n, b_q=n, seed=20 + n)
        k_reader, v_reader = BlockReader(k, block_size, "k"), BlockReader(v, block_size, "v")
        case = f"n = {n} in blocks of {block_size}"
        result, error = call(fn, q.copy(), k_reader, v_reader, block_size)
        if error is not None:
            return Feedback(False, f"{case}: {error.message}")
        out = np.asarray(result, dtype=np.float64)
        if out.shape != (n, v.shape[1]):
            return Feedback(False, f"{case}: the output has shape {out.shape}, expected (n, d_v) = {(n, v.shape[1])}")
        right = scaled_dot_product_attention(q, k, v, causal=True)[0]
        if not np.allclose(out, right, atol=1e-9):
            if np.allclose(out, _plain(q, k, v), atol=1e-9):
                return Feedback(False, f"{case}: the output is that of attention WITHOUT a mask: every query sees "
                                       "the later keys too",
                                hints=("mask the scores of the keys j > i before the running maximum",
                                       "in each tile, s = np.where(cols <= rows, s, -np.inf) with rows and cols "
                                       "the absolute positions of the tile's queries and keys"))
            if np.allclose(out, _causal_variant(q, k, v, block_size, mask_diagonal=False), atol=1e-9):
                return Feedback(False, f"{case}: the tiles above the diagonal are skipped, but inside the tiles "
                                       "the diagonal crosses, queries still see later keys",
                                hints=("a tile that holds both keys j <= i and j > i needs a mask",
                                       "in every tile, s = np.where(cols <= rows, s, -np.inf), with "
                                       "rows = i0 + arange(b_q)[:, None] and cols = j0 + arange(b_k)[None, :]"))
            with np.errstate(all="ignore"):
                strict = _causal_variant(q, k, v, block_size, strict=True)
            if np.allclose(out, strict, atol=1e-9, equal_nan=True):
                return Feedback(False, f"{case}: query i does not see key i itself (query 0 sees nothing)",
                                hints=("causal means j <= i: a position attends to itself",
                                       "mask with cols <= rows, not cols < rows"))
            return Feedback(False, f"{case}: the output differs from causal attention by up to "
                                   f"{np.nanmax(np.abs(out - right)):.3g}")
        needed = sum(min(n, i + block_size) for i in range(0, n, block_size))
        for reader in (k_reader, v_reader):
            if reader.rows_read > needed:
                return Feedback(False, f"{case}: {reader.rows_read} rows of {reader._name} were read, but the "
                                       f"queries of each block see only the keys up to their own position "
                                       f"({needed} rows in all): some tiles hold only masked keys",
                                hints=("the block of queries i0 .. i0 + b - 1 sees no key beyond its last "
                                       "query, i0 + b - 1",
                                       "loop over j0 in range(0, min(n, i0 + block_size), block_size)"))
    return Feedback(True, "correct: each block of queries reads only the tiles of keys at or before its last query, "
                          "masks the tile the diagonal crosses, and gives causal attention; about half the tiles "
                          "are never read")


# Typical wrong answers to exercise 8.6, as students write them: {stop} is where the loop over the tiles of
# keys ends, {mask} what is done to the tile's scores.
_CAUSAL_TRY = """def causal_tiled_attention(q, k, v, b):
    n, d = q.shape
    out = np.zeros((n, v.shape[1]))
    for i0 in range(0, n, b):
        qi = q[i0:i0 + b] / np.sqrt(d)
        rows = np.arange(i0, i0 + len(qi))[:, None]
        m, l, acc = np.full((len(qi), 1), -np.inf), np.zeros((len(qi), 1)), np.zeros((len(qi), v.shape[1]))
        for j0 in range(0, {stop}, b):
            s = qi @ k[j0:j0 + b].T
            cols = np.arange(j0, j0 + s.shape[1])[None, :]
            {mask}
            m_new = np.maximum(m, s.max(axis=1, keepdims=True))
            safe = np.where(np.isfinite(m_new), m_new, 0)
            p, r = np.exp(s - safe), np.exp(m - safe)
            l, acc, m = r * l + p.sum(axis=1, keepdims=True), r * acc + p @ v[j0:j0 + b], m_new
        out[i0:i0 + len(qi)] = np.divide(acc, l, out=np.zeros_like(acc), where=l > 0)
    return out"""


def _step_mistake(m_new="max(m, s.max())", alpha="np.exp(m - m_new)", l_new="alpha * l + p.sum()",
                  acc_new="alpha * acc + p @ v", p="np.exp(s - m_new)"):
    return (f"def online_step(m, l, acc, s, v):\n    m_new = {m_new}\n    alpha = {alpha}\n    p = {p}\n"
            f"    return m_new, {l_new}, {acc_new}\n")


def _block_mistake(alpha="np.exp(m - m_new)", scale="1 / np.sqrt(q_block.shape[1])", result="acc / l",
                   stop="len(k)", exponent="s - m_new"):
    return ("def attend_block(q_block, k, v, block_size):\n"
            "    m = np.full((len(q_block), 1), -np.inf)\n"
            "    l, acc = np.zeros((len(q_block), 1)), np.zeros((len(q_block), v.shape[1]))\n"
            f"    for j in range(0, {stop}, block_size):\n"
            f"        s = q_block @ k[j:j + block_size].T * {scale}\n"
            "        m_new = np.maximum(m, s.max(axis=1, keepdims=True))\n"
            f"        alpha, p = {alpha}, np.exp({exponent})\n"
            "        l = alpha * l + p.sum(axis=1, keepdims=True)\n"
            "        acc = alpha * acc + p @ v[j:j + block_size]\n"
            f"        m = m_new\n    return {result}\n")


def _bytes_mistake(body):
    return f"def weights_bytes(n, heads, batch, dtype):\n    return {body}\n"


ITEMSIZE = "np.dtype(dtype).itemsize"

EXERCISES = [
    Exercise(checker=check_matrix_bytes, reference="attn_course.exercises.efficiency.matrix_bytes",
             chapter="08_efficiency", solution="weights_bytes", level="debug", mistakes=(
                 Mistake(_bytes_mistake(f"batch * heads * n * n * {ITEMSIZE} / 2**20"), "the size in MiB"),
                 Mistake(_bytes_mistake(f"8 * batch * heads * n * n * {ITEMSIZE}"), "8 times too much"),
                 Mistake(_bytes_mistake("batch * heads * n * n"), "the number of weights"),
                 Mistake(_bytes_mistake(f"batch * heads * n * {ITEMSIZE}"), "grows linearly in n"),
                 Mistake(_bytes_mistake(f"n * n * {ITEMSIZE}"), "one n x n matrix"),
                 Mistake(_bytes_mistake(f"batch * n * n * {ITEMSIZE}"), "look at the heads"),
                 Mistake(_bytes_mistake(f"heads * n * n * {ITEMSIZE}"), "look at the batch"),
                 Mistake(_bytes_mistake("batch * heads * n * n * 4"), "the bytes per number are wrong"),
                 Mistake(_bytes_mistake("'a lot'"), "expected a number of bytes"),
             )),
    Exercise(checker=check_online_softmax_step, reference="attn_course.exercises.efficiency.online_softmax_step",
             chapter="08_efficiency", solution="online_step", level="debug", mistakes=(
                 Mistake(_step_mistake(l_new="l + p.sum()", acc_new="acc + p @ v"), "not rescaled"),
                 Mistake(_step_mistake(acc_new="acc + p @ v"), "acc is not"),
                 Mistake(_step_mistake(l_new="l + p.sum()"), "l is not"),
                 Mistake(_step_mistake(alpha="np.exp(m_new - m)"), "upside down"),
                 Mistake(_step_mistake(m_new="s.max()"), "this block alone"),
                 Mistake(_step_mistake(acc_new="(alpha * acc + p @ v) / (alpha * l + p.sum())"), "already divided"),
                 Mistake(_step_mistake(alpha="1.0", p="np.exp(s)"), "look at l_new"),   # exp(s): right shape, overflows
                 Mistake(_step_mistake(l_new="1.0"), "l_new"),
                 Mistake(_step_mistake(acc_new="np.zeros(7)"), "acc_new has shape (7,)"),
                 Mistake(_step_mistake(acc_new="alpha * acc + p @ v + 1"), "acc_new is not"),
             )),
    Exercise(checker=check_query_block, reference="attn_course.exercises.efficiency.attend_block",
             chapter="08_efficiency", solution="attend_block", level="implement", mistakes=(
                 Mistake(_block_mistake(alpha="1.0"), "not rescaled"),
                 Mistake(_block_mistake(result="acc"), "unnormalised acc"),
                 Mistake(_block_mistake(scale="1.0"), "not scaled"),                                 # missing sqrt(d)
                 Mistake(_block_mistake(alpha="1.0", result="acc"), "neither rescaled nor divided"),
                 Mistake(_block_mistake(stop="len(k) // block_size * block_size"), "were read"),
                 Mistake(_block_mistake(alpha="1.0", exponent="s"), "thousands"),                    # overflow
                 Mistake(_block_mistake(result="(acc / l)[:, :1]"), "the output has shape"),
                 Mistake("def attend_block(q_block, k, v, block_size):\n    s = q_block @ k.T / "
                         "np.sqrt(q_block.shape[1])\n    w = np.exp(s - s.max(axis=1, keepdims=True))\n"
                         "    return w / w.sum(axis=1, keepdims=True) @ np.asarray(v)\n", "uses k whole"),
             )),
    Exercise(checker=check_rescale_prediction, reference="attn_course.exercises.efficiency.RESCALES",
             chapter="08_efficiency", solution="rescales", level="predict", points=1,
             mistakes=(Mistake("rescales = [1, np.exp(-2), 1]", "block 1's factor is wrong"),
                       Mistake("rescales = [0, np.exp(2), 1]", "block 2's factor is above 1"),
                       Mistake("rescales = [0, np.exp(-2), np.exp(1)]", "block 3's factor is wrong"))),
    Exercise(checker=check_merge_states, reference="attn_course.exercises.efficiency.merge_states",
             chapter="08_efficiency", solution="merge", level="derive", points=2,
             mistakes=(Mistake("def merge(a, b):\n    return max(a[0], b[0]), a[1] + b[1], a[2] + b[2]",
                               "the two sums are in different units"),
                       Mistake("def merge(a, b):\n    m = max(a[0], b[0])\n"
                               "    f, g = np.exp(m - a[0]), np.exp(m - b[0])\n"
                               "    return m, f * a[1] + g * b[1], f * a[2] + g * b[2]",
                               "make the smaller state grow"),
                       Mistake("def merge(a, b):\n    m = max(a[0], b[0])\n"
                               "    f, g = np.exp(a[0] - m), np.exp(b[0] - m)\n"
                               "    return m, f * a[1] + g * b[1], a[2] + b[2]",
                               "m and l are right but acc is not"))),
    Exercise(checker=check_causal_tiled, reference="attn_course.exercises.efficiency.causal_tiled",
             chapter="08_efficiency", solution="causal_tiled_attention", level="hard", points=3,
             mistakes=(Mistake(_CAUSAL_TRY.format(stop="min(n, i0 + b)", mask="# the tiles after the last query are skipped: enough?"),
                               "inside the tiles the diagonal crosses"),
                       Mistake(_CAUSAL_TRY.format(stop="n", mask="s = np.where(cols <= rows, s, -np.inf)"),
                               "some tiles hold only masked keys"),
                       Mistake(_CAUSAL_TRY.format(stop="min(n, i0 + b)", mask="s = np.where(cols < rows, s, -np.inf)"),
                               "does not see key i itself"))),
]
