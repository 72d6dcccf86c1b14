"""The two capstone projects: their reference solutions and the automated part of their grading.

Capstone I (after chapter 4): a causal self-attention layer, forward and backward, from NumPy only.

    self_attention_layer(x, W_q, W_k, W_v, causal) -> (output, weights)
    layer_gradients(x, W_q, W_k, W_v, causal, grad_output) -> (dW_q, dW_k, dW_v)

Capstone II (after chapter 8): causal attention in memory linear in n, skipping the tiles no query sees.

    causal_tile_count(n, block_size) -> the number of (query block, key block) tiles it computes
    tiled_causal_attention(q, k, v, block_size) -> output, reading k and v one block of rows at a time

The references are written here once; the capstone notebooks call them from their solution cells, which
the student edition replaces by stubs. Each checker says what is wrong and where; its hints go further.
"""
from dataclasses import dataclass

import numpy as np

from ..attention import scaled_dot_product_attention
from ..backward import scaled_dot_product_attention_backward
from ..flash import tiled_attention
from .efficiency import BlockReader
from .feedback import Feedback, call, checker
from .registry import Exercise


# ---------------------------------------------------------------------------------------------------
# Capstone I: a self-attention layer, forward and backward

def self_attention_layer(x, W_q, W_k, W_v, causal=True):
    """x: (n, d_model); W_q, W_k: (d_model, d_k); W_v: (d_model, d_v) -> output (n, d_v), weights (n, n)."""
    q, k, v = x @ W_q, x @ W_k, x @ W_v                     # (n, d_k), (n, d_k), (n, d_v)
    return scaled_dot_product_attention(q, k, v, causal=causal)


def layer_gradients(x, W_q, W_k, W_v, causal, grad_output):
    """dL/dW_q, dL/dW_k, dL/dW_v given grad_output = dL/d(output): (n, d_v)."""
    q, k, v = x @ W_q, x @ W_k, x @ W_v
    dq, dk, dv = scaled_dot_product_attention_backward(q, k, v, grad_output, causal=causal)
    return x.T @ dq, x.T @ dk, x.T @ dv                     # q = x W_q, so dW_q = x^T dq: (d_model, d_k)


def _layer_case(seed, n=5, d_model=6, d_k=4, d_v=3, spread=1.0):
    rng = np.random.default_rng(seed)
    x = spread * rng.standard_normal((n, d_model))
    return x, rng.standard_normal((d_model, d_k)), rng.standard_normal((d_model, d_k)), rng.standard_normal((d_model, d_v))


def _unscaled_layer(x, W_q, W_k, W_v, causal):
    q, k, v = x @ W_q, x @ W_k, x @ W_v
    return scaled_dot_product_attention(q, k, v, causal=causal, scale=1.0)


@checker
def check_capstone_layer(fn):
    """Check `fn(x, W_q, W_k, W_v, causal) -> (output, weights)`: causal (or full) scaled dot-product
    self-attention of the rows of x, projected by W_q, W_k and W_v; output (n, d_v), weights (n, n)."""
    for seed, causal in [(0, True), (1, False), (2, True)]:
        x, W_q, W_k, W_v = _layer_case(seed)
        case = f"x: {x.shape}, causal={causal}"
        result, error = call(fn, x, W_q, W_k, W_v, causal)
        if error is not None:
            return error
        if not (isinstance(result, tuple) and len(result) == 2):
            return Feedback(False, f"{case}: the layer returns {type(result).__name__}, not the pair (output, weights)",
                            hints=("Return both: `return output, weights`.",))
        out, w = (np.asarray(r, dtype=np.float64) for r in result)
        right_out, right_w = self_attention_layer(x, W_q, W_k, W_v, causal)
        if w.shape != right_w.shape or out.shape != right_out.shape:
            return Feedback(False, f"{case}: output {out.shape} and weights {w.shape}, expected {right_out.shape} "
                                   f"and {right_w.shape}",
                            hints=("The weights are (queries, keys); the output has one row per query and the "
                                   "width of the values.", "Scores are q @ k.T, output weights @ v, with q = x @ W_q, "
                                   "k = x @ W_k, v = x @ W_v."))
        if not np.allclose(w.sum(-1), 1):
            return Feedback(False, f"{case}: the rows of the weights do not sum to 1",
                            hints=("Each query's weights are a softmax over the keys: normalise along the last axis.",
                                   "weights = exp(s - s.max(-1, keepdims=True)); weights /= weights.sum(-1, keepdims=True)"))
        if causal and np.abs(np.triu(w, 1)).max() > 1e-12:
            return Feedback(False, f"{case}: a query gives weight to keys after it (above the diagonal)",
                            hints=("In a causal layer query i sees keys j <= i only; the mask goes on the scores, "
                                   "before the softmax.", "scores = np.where(np.tril(np.ones((n, n), bool)), scores, -np.inf)"))
        if not causal and np.abs(np.triu(w, 1)).max() < 1e-12:
            return Feedback(False, f"{case}: with causal=False the weights above the diagonal are still 0",
                            hints=("Apply the mask only when `causal` is true.",))
        if np.allclose(w, _unscaled_layer(x, W_q, W_k, W_v, causal)[1]):
            return Feedback(False, f"{case}: the weights are those of unscaled scores",
                            hints=("Chapter 4 shows why the scores are divided before the softmax.",
                                   "scores = q @ k.T / np.sqrt(d_k), with d_k = W_q.shape[1]"))
        if not (np.allclose(w, right_w, atol=1e-9) and np.allclose(out, right_out, atol=1e-9)):
            return Feedback(False, f"{case}: the weights or the output differ from softmax(q k^T / sqrt(d_k)) v",
                            hints=("Check each step against chapter 3: projections, scores, mask, softmax, "
                                   "weighted sum of the values (not of x, not of the keys).",))
    x, W_q, W_k, W_v = _layer_case(3, spread=60.0)
    result, error = call(fn, x, W_q, W_k, W_v, True)
    if error is not None:
        return error
    if not np.all(np.isfinite(np.asarray(result[0], dtype=np.float64))):
        return Feedback(False, "with large inputs (scores in the thousands) the output is NaN or inf",
                        hints=("exp overflows past about 709 in float64.",
                               "Subtract each row's maximum from the scores before exponentiating."))
    return Feedback(True, "correct: projections, scaled scores, the causal mask, a stable softmax and the weighted "
                          "sum of the values")


@checker
def check_capstone_gradients(fn):
    """Check `fn(x, W_q, W_k, W_v, causal, grad_output) -> (dW_q, dW_k, dW_v)`: the gradients of a loss with
    dL/d(output) = grad_output through the layer of check_capstone_layer, each shaped like its W."""
    for seed, causal in [(4, True), (5, False)]:
        x, W_q, W_k, W_v = _layer_case(seed)
        g = np.random.default_rng(seed + 100).standard_normal((x.shape[0], W_v.shape[1]))
        case = f"x: {x.shape}, causal={causal}"
        result, error = call(fn, x, W_q, W_k, W_v, causal, g)
        if error is not None:
            return error
        if not (isinstance(result, tuple) and len(result) == 3):
            return Feedback(False, f"{case}: expected the triple (dW_q, dW_k, dW_v), got {type(result).__name__}",
                            hints=("Return all three: `return dW_q, dW_k, dW_v`.",))
        got = [np.asarray(r, dtype=np.float64) for r in result]
        right = layer_gradients(x, W_q, W_k, W_v, causal, g)
        for name, a, b in zip(("dW_q", "dW_k", "dW_v"), got, right):
            if a.shape != b.shape:
                return Feedback(False, f"{case}: {name} has shape {a.shape}, expected {b.shape}, the shape of its W",
                                hints=("A gradient has the shape of what it differentiates.",
                                       "q = x @ W_q, so dW_q = x.T @ dq, not dq @ x or dq.T @ x."))
        if np.allclose(got[0], right[1]) and np.allclose(got[1], right[0]):
            return Feedback(False, f"{case}: dW_q and dW_k are swapped",
                            hints=("dq = ds @ k and dk = ds.T @ q: the query's gradient goes through the keys.",))
        if causal and not np.allclose(got[2], right[2]) and np.allclose(got[2], layer_gradients(x, W_q, W_k, W_v, False, g)[2]):
            return Feedback(False, f"{case}: dW_v is that of a layer without the causal mask",
                            hints=("The backward pass uses the forward pass's weights, masked ones included.",))
        for name, a, b in zip(("dW_q", "dW_k", "dW_v"), got, right):
            if not np.allclose(a, b, atol=1e-8):
                hints = ("Check it against a finite difference: attn_course.backward.numerical_gradient.",)
                if name != "dW_v" and np.allclose(a, b * np.sqrt(W_q.shape[1])):
                    return Feedback(False, f"{case}: {name} is off by the factor sqrt(d_k)",
                                    hints=("The scores were scaled by 1/sqrt(d_k) in the forward pass; the "
                                           "backward pass goes through that scaling too.", "ds *= 1 / np.sqrt(d_k)"))
                return Feedback(False, f"{case}: {name} differs from the gradient of the layer", hints=hints)
    return Feedback(True, "correct: the three gradients agree with the layer's, through the softmax, the scaling "
                          "and the projections")


# ---------------------------------------------------------------------------------------------------
# Capstone II: causal attention in linear memory

def causal_tile_count(n, block_size):
    """Tiles (query block i, key block j) with j <= i: the others lie wholly above the diagonal."""
    blocks = -(-n // block_size)                             # the last block may be shorter: round up
    return blocks * (blocks + 1) // 2


def tiled_causal_attention(q, k, v, block_size):
    """q, k: (n, d); v: (n, d_v) -> (n, d_v): causal attention, one (block_size, block_size) tile at a time."""
    blocks = []
    for i in range(0, len(q), block_size):
        end = min(i + block_size, len(q))                    # query block i sees the keys before its end only
        k_i, v_i = (np.concatenate([x[j:min(j + block_size, end)] for j in range(0, end, block_size)]) for x in (k, v))
        blocks.append(tiled_attention(q[i:end], k_i, v_i, causal=True, block_size=block_size))  # (b, d_v)
    return np.concatenate(blocks)


@checker
def check_capstone_tile_count(fn):
    """Check `fn(n, block_size) -> int`: how many (query block, key block) tiles causal tiled attention
    computes for n positions, skipping the tiles with no allowed (query, key) pair."""
    for n, block_size in [(1024, 128), (1000, 128), (7, 7), (300, 64), (1, 16)]:
        got, error = call(fn, n, block_size)
        if error is not None:
            return error
        right, blocks = causal_tile_count(n, block_size), -(-n // block_size)
        if got == right:
            continue
        case = f"n = {n}, block_size = {block_size}"
        floor = n // block_size
        for wrong, message, hints in [
            (blocks * blocks, "includes every tile, even those wholly above the diagonal",
             ("A key block after the query block holds only future keys for every query in it.",)),
            (blocks * (blocks - 1) // 2, "leaves out the tiles on the diagonal",
             ("The diagonal tiles hold each query's own key and the keys just before it.",)),
            (floor * (floor + 1) // 2, "misses the last, shorter block",
             ("n is not always a multiple of block_size.", "blocks = -(-n // block_size) rounds up")),
        ]:
            if got == wrong:
                return Feedback(False, f"{case}: the count {message}", hints=hints)
        return Feedback(False, f"{case}: the count is {got!r}, not the number of tiles with j <= i",
                        hints=("Count the tiles (i, j) of a blocks x blocks grid with j <= i.",
                               "blocks * (blocks + 1) // 2, with blocks = -(-n // block_size)"))
    return Feedback(True, "correct: with b blocks, b(b + 1)/2 of the b² tiles are computed, about half for long "
                          "sequences")


@checker
def check_capstone_tiled_causal(fn):
    """Check `fn(q, k, v, block_size) -> (n, d_v)`: causal attention of q: (n, d) over k: (n, d), v: (n, d_v),
    reading k and v one block of rows at a time (the checker hands them over as BlockReaders) and never a
    tile above the diagonal."""
    for n, block_size, spread in [(12, 4, 1.0), (10, 3, 1.0), (8, 8, 1.0), (9, 2, 30.0)]:
        rng = np.random.default_rng(n)
        q, k, v = spread * rng.standard_normal((n, 4)), spread * rng.standard_normal((n, 4)), rng.standard_normal((n, 2))
        readers = BlockReader(k, block_size, "k"), BlockReader(v, block_size, "v")
        result, error = call(fn, q, *readers, block_size)
        case = f"n = {n} in blocks of {block_size}"
        if error is not None:
            return Feedback(False, f"{case}: {error.message}", hints=error.hints)
        out = np.asarray(result, dtype=np.float64)
        right = scaled_dot_product_attention(q, k, v, causal=True)[0]
        if out.shape != right.shape:
            return Feedback(False, f"{case}: the output has shape {out.shape}, expected {right.shape}",
                            hints=("One output row per query, as wide as the values.",))
        if not np.all(np.isfinite(out)):
            return Feedback(False, f"{case}: the output contains NaN or inf",
                            hints=("Keep a running maximum per query and exponentiate s - m_new (chapter 8).",))
        if not np.allclose(out, right, atol=1e-9):
            if np.allclose(out, scaled_dot_product_attention(q, k, v)[0], atol=1e-9):
                return Feedback(False, f"{case}: the output is that of attention without the causal mask",
                                hints=("Inside a diagonal tile some keys come after some queries.",
                                       "Mask the tile's scores where key index > query index, then fold it in."))
            strict = np.tril(np.ones((n, n), bool), -1)
            strict[0, 0] = True
            if np.allclose(out[1:], scaled_dot_product_attention(q, k, v, mask=strict)[0][1:], atol=1e-9):
                return Feedback(False, f"{case}: each query leaves out its own key",
                                hints=("Query i may attend to keys j <= i, itself included.",))
            return Feedback(False, f"{case}: the output differs from causal attention",
                            hints=("Compare one query block with ac.scaled_dot_product_attention(..., causal=True).",))
        allowed = sum(min(i + block_size, n) for i in range(0, n, block_size))  # rows of k up to each block's end
        if max(r.rows_read for r in readers) > allowed:
            return Feedback(False, f"{case}: {max(r.rows_read for r in readers)} rows of k or v read where "
                                   f"{allowed} suffice: tiles wholly above the diagonal are computed",
                            hints=("For query block i, stop the loop over key blocks after block i.",))
    return Feedback(True, "correct: causal attention tile by tile, the tiles above the diagonal skipped")


# The part graded by hand: one rubric per capstone. The chapter prints it (rubric_table), and
# scripts/make_grading.py makes each written criterion an nbgrader manually graded answer cell (the
# chapter's markdown cell tagged `solution` and `rubric-<key>`) and each other one a task graded on the
# whole notebook, worth the same points.

@dataclass(frozen=True)
class Criterion:
    key: str          # names the answer cell's tag, rubric-<key>, and nbgrader's grade id
    criterion: str
    full_marks: str   # what earns all the points
    points: int
    written: bool = True  # a written answer in its own cell; False: graded on the code of the whole notebook


RUBRIC = {
    "04c_capstone_layer": (
        Criterion("weights-picture", "the picture of the weights", "says why the first row of the causal weights is "
                  "one-hot and what the last row averages over", 2),
        Criterion("gradient-check", "the gradient check", "explains what the relative error printed by the gradient "
                  "check measures, and why it is not 0", 2),
        Criterion("code", "the code", "reads like the equations above: one line per step, shapes in comments, no "
                  "loops over positions", 2, written=False),
    ),
    "08c_capstone_linear_memory": (
        Criterion("count", "the count", "derives the number of tiles (not only computes it) and says what fraction "
                  "of the work is saved as $n$ grows", 2),
        Criterion("picture", "the picture", "explains which tiles need a mask inside them and which need none", 2),
        Criterion("memory", "memory", "says which arrays of the solution grow with $n$, and why none of them is "
                  "$n \\times n$", 2),
    ),
}


def rubric_table(chapter):
    """The rubric of a capstone as a markdown table, the points graded by hand in its last row."""
    rows = [f"| {c.criterion} | {c.full_marks} | {c.points} |" for c in RUBRIC[chapter]]
    total = sum(c.points for c in RUBRIC[chapter])
    return "\n".join(["| criterion | what earns full marks | points |", "| --- | --- | ---: |", *rows,
                      f"| **graded by hand** | | **{total}** |"])


# Capstone I comes after chapter 4 and capstone II after chapter 8: attn_course.exercises.EXERCISES puts
# each part in its place in the course.
FIRST = [
    Exercise(checker=check_capstone_layer, reference="attn_course.exercises.capstones.self_attention_layer",
             chapter="04c_capstone_layer", solution="self_attention_layer", level="hard", points=4),
    Exercise(checker=check_capstone_gradients, reference="attn_course.exercises.capstones.layer_gradients",
             chapter="04c_capstone_layer", solution="layer_gradients", level="hard", points=4),
]

SECOND = [
    Exercise(checker=check_capstone_tile_count, reference="attn_course.exercises.capstones.causal_tile_count",
             chapter="08c_capstone_linear_memory", solution="causal_tile_count", level="derive", points=2),
    Exercise(checker=check_capstone_tiled_causal, reference="attn_course.exercises.capstones.tiled_causal_attention",
             chapter="08c_capstone_linear_memory", solution="tiled_causal_attention", level="hard", points=6),
]

EXERCISES = FIRST + SECOND
