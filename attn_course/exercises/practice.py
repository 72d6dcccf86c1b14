"""Checkers for the exercises of chapter 5 (practice): attention in PyTorch, matched to PyTorch's own.

    check_key_padding_mask(fn)          fn(mask) -> nn.MultiheadAttention's key_padding_mask
    check_split_heads(split, merge)     split(x, n_heads): (batch, n, d_model) -> (batch, n_heads, n, d_head)
                                        merge(x): the inverse
    check_multi_head_attention(fn)      fn(x, m, key_padding_mask=None) -> what m(x, x, x) computes
    check_weights_shape_prediction(s)   s: the shape of the weights with batch_first=False (predict)
    check_mha_parameter_count(fn)       fn(d_model, n_heads) -> 4 d_model^2 + 4 d_model (derive)
    check_causal_padded_attention(fn)   fn(x, m, key_padding_mask) -> causal self-attention without the
                                        padding keys (hard; the reference is the package's NumPy
                                        multi_head_attention)

Each checker imports torch inside itself, so that `import attn_course.exercises` works without torch.
The learner's functions run under torch.no_grad() on small float64 cases on the CPU, seeded with a
private generator (the learner's global random state is left alone). The references: to_key_padding_mask,
the package's split_heads and merge_heads (attn_course.multihead, which work on tensors too) and
reference_multi_head_attention.
"""
import math

import numpy as np

from ..multihead import split_heads
from .feedback import Feedback, call, checker, fail
from .registry import Exercise, Mistake


def _call(fn, *args, **kwargs):
    """feedback.call, under torch.no_grad(): the learner's tensors need no graph."""
    import torch

    with torch.no_grad():
        return call(fn, *args, **kwargs)


def _not_a_tensor(result, what):
    """A Feedback when `result` is not a torch.Tensor, else None."""
    import torch

    if isinstance(result, torch.Tensor):
        return None
    return fail(f"{what} must be a torch.Tensor, got {type(result).__name__}: look at the type you return",
                "nn.MultiheadAttention works on tensors", "torch.from_numpy or torch.as_tensor converts an array")


def _close(a, b, atol=1e-6):
    import torch

    return a.shape == b.shape and torch.allclose(a.to(b.dtype), b, rtol=1e-5, atol=atol)


# ---------------------------------------------------------------------------------------------------
# Exercise 5.1: from attn_course's padding mask (True = may attend) to nn.MultiheadAttention's (True = padding).

_LENGTHS, _N = [5, 3, 1], 5


def _padding_module(d_model=4, seed=0):
    """A small float64 nn.MultiheadAttention with seeded weights, in eval mode."""
    import torch
    from torch import nn

    with torch.random.fork_rng(devices=[]):  # the constructor's initialisation must not move the learner's RNG
        m = nn.MultiheadAttention(d_model, 1, batch_first=True, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
    return m.eval()


def _weight_on_padding(key_padding_mask, allowed):
    """The largest total weight nn.MultiheadAttention gives to padding keys under `key_padding_mask`."""
    import torch

    m = _padding_module()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(len(_LENGTHS), _N, 4, generator=g, dtype=torch.float64)
    with torch.no_grad():
        _, w = m(x, x, x, key_padding_mask=key_padding_mask)  # w: (batch, n, n), averaged over heads
    return float(torch.nan_to_num(w, nan=1.0).masked_fill(allowed[:, None, :], 0.0).sum(-1).max())


def to_key_padding_mask(mask):
    """The reference: drop the query axis of attn_course's (batch, 1, n) mask, and flip it (True = padding)."""
    import torch

    return ~torch.from_numpy(np.asarray(mask)[:, 0, :].copy())


@checker
def check_key_padding_mask(fn):
    """Check `fn(mask) -> key_padding_mask`.

    mask: attn_course.padding_mask(lengths, n), a NumPy bool array (batch, 1, n), True = a real token
    (may attend: the convention of attn_course and of F.scaled_dot_product_attention).
    key_padding_mask: what torch.nn.MultiheadAttention takes, a torch bool tensor (batch, n),
    True = padding (masked out).
    """
    import torch

    from ..multihead import padding_mask

    mask = padding_mask(np.array(_LENGTHS), _N)                  # (3, 1, 5)
    allowed = torch.from_numpy(mask[:, 0, :].copy())             # (3, 5)
    batch = len(_LENGTHS)
    result, error = _call(fn, mask.copy())
    if error is not None:
        return error
    not_tensor = _not_a_tensor(result, "the key_padding_mask")
    if not_tensor is not None:
        return not_tensor
    if result.dtype != torch.bool:
        if result.is_floating_point():
            return fail(f"the key_padding_mask has dtype {result.dtype}, expected torch.bool: a float mask means "
                        "something else. Look at the dtype", "nn.MultiheadAttention ADDS a float mask to the scores "
                        "(0 = keep, -inf = mask out), so 0/1 values mask nothing", "return a bool tensor")
        return fail(f"the key_padding_mask has dtype {result.dtype}, expected torch.bool: look at the dtype",
                    "return a bool tensor")
    if tuple(result.shape) == (batch, 1, _N):
        return fail(f"the key_padding_mask has shape {tuple(result.shape)}; nn.MultiheadAttention wants (batch, n) = "
                    f"({batch}, {_N}), one row per sequence. Look at the extra axis",
                    "it is the query axis of the (batch, 1, n) mask", "drop it: mask[:, 0] or squeeze(1)")
    if tuple(result.shape) != (batch, _N):
        return fail(f"the key_padding_mask has shape {tuple(result.shape)}, expected (batch, n) = ({batch}, {_N}): "
                    "look at the axes you keep", "one row per sequence, one column per position: mask[:, 0]")
    result = result.cpu()
    if torch.equal(result, allowed):
        share = _weight_on_padding(result, allowed)
        return fail("the convention is not flipped: your mask is True at the real tokens, so nn.MultiheadAttention "
                    f"attends only to the padding (up to {share:.2f} of a query's weight, or NaN where a sequence has "
                    "no padding). Look at what True means to it", "nn.MultiheadAttention masks out where "
                    "key_padding_mask is True; attn_course's True means may attend", "invert it: ~mask")
    expected = to_key_padding_mask(mask)
    if not torch.equal(result, expected):
        wrong = (result != expected).nonzero().tolist()
        return fail(f"the key_padding_mask is wrong at (sequence, position) {[tuple(i) for i in wrong[:4]]}: look at "
                    f"the lengths, {_LENGTHS}", "True belongs exactly at the padded positions",
                    "~torch.from_numpy(mask[:, 0, :])")
    share = _weight_on_padding(result, allowed)
    return Feedback(True, f"correct: True marks the padding; nn.MultiheadAttention gives it weight {share:.0f}")


# ---------------------------------------------------------------------------------------------------
# Exercise 5.2: split and merge heads.

_B, _T, _H, _D = 2, 5, 3, 4  # batch, positions, heads, d_head: all different, so that mix-ups show


def _split_variants(x, n_heads):
    """Typical wrong splits, with what to say about each."""
    b, n, d = x.shape
    d_head = d // n_heads
    return [
        (x.reshape(b, n_heads, n, d_head),
         ("one head gets pieces of several positions: look at how you reshape",
          "viewing (batch, n, d_model) directly as (batch, n_heads, n, d_head) cuts the memory in the wrong places",
          "reshape to (batch, n, n_heads, d_head) first, then transpose(1, 2)")),
        (x.unflatten(-1, (d_head, n_heads)).permute(0, 3, 1, 2),
         (f"head i gets every {n_heads}-th column (columns i, i + {n_heads}, ...): look at the order of the two "
          "sizes you split the last axis into", "nn.MultiheadAttention gives head i the contiguous columns "
          "i*d_head ... (i+1)*d_head - 1", "reshape the last axis to (n_heads, d_head), not (d_head, n_heads)")),
    ]


@checker
def check_split_heads(split, merge):
    """Check `split(x, n_heads)` and `merge(heads)`, the reshapes of multi-head attention, on torch tensors.

    split: (batch, n, d_model) -> (batch, n_heads, n, d_head), head i taking columns i*d_head ... (i+1)*d_head - 1
    merge: (batch, n_heads, n, d_head) -> (batch, n, d_model), the inverse (concatenate the heads)
    """
    import torch

    # Entries that tell where they came from: x[b, t, c] = 1000 b + 100 t + c.
    x = (1000 * torch.arange(_B).view(-1, 1, 1) + 100 * torch.arange(_T).view(1, -1, 1)
         + torch.arange(_H * _D).view(1, 1, -1)).to(torch.float64)
    expected = split_heads(x, _H)
    heads, error = _call(split, x.clone(), _H)
    if error is not None:
        return fail("split: " + error.message, *error.hints)
    not_tensor = _not_a_tensor(heads, "split's result")
    if not_tensor is not None:
        return not_tensor
    shape = tuple(heads.shape)
    if shape != tuple(expected.shape):
        want = f"expected (batch, n_heads, n, d_head) = {tuple(expected.shape)}"
        if shape == (_B, _T, _H, _D):
            return fail(f"split: shape {shape}, {want}: that is the reshape alone. Look at where the head axis is",
                        "the head axis must come before the positions", "then transpose(1, 2)")
        if shape == (_B, _H, _D, _T):
            return fail(f"split: shape {shape}, {want}: the last two axes are swapped. Look at your transpose",
                        "each head needs (n, d_head), one row per position",
                        "x.reshape(b, n, n_heads, d_head).transpose(1, 2)")
        return fail(f"split: shape {shape}, {want}: look at your reshape",
                    "x.reshape(b, n, n_heads, d_head).transpose(1, 2)")
    if not torch.equal(heads.to(x.dtype), expected):
        for wrong, (message, *hints) in _split_variants(x, _H):
            if torch.equal(heads.to(x.dtype), wrong):
                back, err = _call(lambda: merge(split(x.clone(), _H)))
                if err is None and isinstance(back, torch.Tensor) and _close(back, x, atol=0):
                    message += " (merge(split(x)) == x does not prove them right: two wrong reshapes undo each other)"
                return fail("split: " + message, *hints)
        return fail("split: the shape is right but the entries are not where they belong: look at which entry goes "
                    "where", "heads[b, i, t, j] must be x[b, t, i * d_head + j]",
                    "x.reshape(b, n, n_heads, d_head).transpose(1, 2)")

    # merge, given correct heads: must put them back side by side.
    merged, error = _call(merge, expected.clone(memory_format=torch.contiguous_format))  # as attention returns them
    if error is not None:
        if "view" in error.message and ("stride" in error.message or "contiguous" in error.message):
            return fail("merge: " + error.message + ": look at the memory layout after your transpose",
                        "after a transpose the tensor is not contiguous in memory, and .view needs it to be",
                        "use .reshape, or .contiguous() before .view")
        return fail("merge: " + error.message, *error.hints)
    not_tensor = _not_a_tensor(merged, "merge's result")
    if not_tensor is not None:
        return not_tensor
    if tuple(merged.shape) != tuple(x.shape):
        return fail(f"merge: shape {tuple(merged.shape)}, expected (batch, n, d_model) = {tuple(x.shape)}: look at "
                    "which axes you join", "the heads and d_head join into d_model",
                    "heads.transpose(1, 2).reshape(b, n, n_heads * d_head)")
    if not torch.equal(merged.to(x.dtype), x):
        if torch.equal(merged.to(x.dtype), expected.reshape(x.shape)):
            return fail("merge: the heads' outputs for different positions get mixed: look at how you reshape",
                        "a reshape without a transpose joins the wrong axes",
                        "transpose(1, 2) back to (batch, n, n_heads, d_head) first, then reshape to (batch, n, d_model)")
        return fail("merge: the shape is right but the entries are not where they belong: look at which entry goes "
                    "where", "merged[b, t, i * d_head + j] must be heads[b, i, t, j]",
                    "heads.transpose(1, 2).reshape(b, n, n_heads * d_head)")
    return Feedback(True, f"correct: split gives head i the columns i*d_head ... (i+1)*d_head - 1 of every position, "
                          f"{tuple(x.shape)} -> {tuple(expected.shape)}, and merge undoes it")


# ---------------------------------------------------------------------------------------------------
# Exercise 5.3: multi-head attention from nn.MultiheadAttention's own weights.

_MHA = dict(batch=2, n=5, d_model=12, n_heads=3)


def _mha_case(seed=0):
    """A float64 nn.MultiheadAttention (batch first, seeded weights and non-zero biases) and an input."""
    import torch
    from torch import nn

    c = _MHA
    with torch.random.fork_rng(devices=[]):  # the constructor's initialisation must not move the learner's RNG
        m = nn.MultiheadAttention(c["d_model"], c["n_heads"], batch_first=True, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in m.named_parameters():
            std = 1.5 / math.sqrt(c["d_model"]) if p.dim() == 2 else 0.5  # scores of order 1: softmax neither flat nor one-hot
            p.copy_(std * torch.randn(p.shape, generator=g, dtype=p.dtype))
    x = torch.randn(c["batch"], c["n"], c["d_model"], generator=g, dtype=torch.float64)
    key_padding_mask = torch.zeros(c["batch"], c["n"], dtype=torch.bool)
    key_padding_mask[0, 4:] = True  # 4 real tokens and 1 of padding: every sequence keeps some of each,
    key_padding_mask[1, 3:] = True  # 3 real tokens and 2 of padding   so an inverted mask gives no NaN
    return m.eval(), x, key_padding_mask


def reference_multi_head_attention(x, m, key_padding_mask=None, *, scale="d_head", split="right", merge="right",
                                   out_proj=True, bias=True, transpose_weights=True, order=(0, 1, 2),
                                   softmax_dim=-1, mask="right"):
    """What nn.MultiheadAttention m (batch first) computes for self-attention on x: (batch, n, d_model).

    The keyword arguments switch in the typical mistakes, so that a checker can recognise them:
    scale "d_head" | "d_model" | "none"; split / merge "right" | "no_transpose" | "interleaved"; out_proj;
    bias; transpose_weights (x @ W.T, as nn.Linear); order (which chunk of in_proj_weight is q, k, v);
    softmax_dim; mask "right" | "ignored" | "inverted" (key_padding_mask: True = padding).
    """
    import torch

    h = m.num_heads
    b, n, d = x.shape
    d_head = d // h
    weights = m.in_proj_weight.chunk(3)
    biases = m.in_proj_bias.chunk(3)

    def proj(i):
        W = weights[order[i]]
        y = x @ (W.T if transpose_weights else W)
        return y + biases[order[i]] if bias else y

    def split_heads(y):
        if split == "no_transpose":
            return y.reshape(b, h, n, d_head)
        if split == "interleaved":
            return y.unflatten(-1, (d_head, h)).permute(0, 3, 1, 2)
        return y.unflatten(-1, (h, d_head)).transpose(1, 2)

    q, k, v = (split_heads(proj(i)) for i in range(3))                  # (b, h, n, d_head)
    s = {"d_head": 1 / math.sqrt(d_head), "d_model": 1 / math.sqrt(d), "none": 1.0}[scale]
    scores = q @ k.transpose(-2, -1) * s                                 # (b, h, n, n)
    if key_padding_mask is not None and mask != "ignored":
        masked = key_padding_mask if mask == "right" else ~key_padding_mask
        scores = scores.masked_fill(masked[:, None, None, :], float("-inf"))
    heads = torch.softmax(scores, dim=softmax_dim) @ v                   # (b, h, n, d_head)
    if merge == "no_transpose":
        concat = heads.reshape(b, n, d)
    elif merge == "interleaved":
        concat = heads.permute(0, 2, 3, 1).reshape(b, n, d)
    else:
        concat = heads.transpose(1, 2).reshape(b, n, d)                  # (b, n, d_model)
    if not out_proj:
        return concat
    W_o = m.out_proj.weight.T if transpose_weights else m.out_proj.weight
    return concat @ W_o + (m.out_proj.bias if bias else 0.0)


def _mha_mistakes(d_model, n_heads):
    """(switches of reference_multi_head_attention, (message, *hints)) for each typical mistake."""
    d_head = d_model // n_heads
    split = "reshape to (batch, n, n_heads, d_head), then transpose(1, 2)"
    return [
        (dict(scale="none"), ("the weights are too peaked: the scores are not scaled. Look at the scale of q @ k^T",
                              f"each head's dot products have d_head = {d_head} terms",
                              f"multiply q @ k^T by 1/sqrt(d_head) = 1/sqrt({d_head}) before the softmax")),
        (dict(scale="d_model"), (f"the scores are divided by sqrt(d_model) = sqrt({d_model}): look at the scale",
                                 f"each head's dot products have d_head = {d_head} terms",
                                 f"divide by sqrt(d_head) = sqrt({d_head})")),
        (dict(split="no_transpose"), ("wrong head split: each head gets pieces of several positions. Look at your "
                                      "reshape", "a reshape alone cuts the memory in the wrong places", split)),
        (dict(split="interleaved", merge="interleaved"),
         ("wrong head split: head i gets every n_heads-th column. Look at the order of the sizes you split into",
          "head i must get the contiguous columns i*d_head ... (i+1)*d_head - 1 of q, k and v",
          "reshape the last axis to (n_heads, d_head), not (d_head, n_heads)")),
        (dict(merge="no_transpose"), ("wrong head merge: the heads' outputs for different positions get mixed. Look "
                                      "at your reshape", "a reshape alone joins the wrong axes",
                                      "transpose(1, 2) back to (batch, n, n_heads, d_head), then reshape to "
                                      "(batch, n, d_model)")),
        (dict(out_proj=False), ("the output is the concatenated heads: look at the last step of the module",
                                "the output projection is missing",
                                "concat(heads) @ m.out_proj.weight.T + m.out_proj.bias")),
        (dict(bias=False), ("the biases are missing: look at the projections",
                            "q, k, v add m.in_proj_bias (in three chunks) and the output adds m.out_proj.bias",
                            "x @ W.T + b for each projection")),
        (dict(transpose_weights=False), ("the weights are applied untransposed: look at how PyTorch stores them",
                                         "nn.Linear stores a weight (out, in)", "a projection is x @ W.T + b")),
        (dict(softmax_dim=-2), ("the weights sum to 1 over the queries, not the keys: look at the axis of your "
                                "softmax", "the keys are the last axis of the scores", "softmax(scores, dim=-1)")),
    ]


@checker
def check_multi_head_attention(fn):
    """Check `fn(x, m, key_padding_mask=None) -> output`, multi-head self-attention from m's own weights.

    x: (batch, n, d_model)   m: a torch.nn.MultiheadAttention with batch_first=True, whose weights are
    m.in_proj_weight (3 d_model, d_model: W_q, W_k, W_v stacked, each (out, in)), m.in_proj_bias,
    m.out_proj.weight, m.out_proj.bias, and m.num_heads heads.
    output: (batch, n, d_model), equal to m(x, x, x)[0]; a pair (output, weights) is accepted too.
    key_padding_mask: bool (batch, n), True = padding (nn.MultiheadAttention's convention); optional.
    """
    import torch

    m, x, key_padding_mask = _mha_case()
    c = _MHA
    shape = (c["batch"], c["n"], c["d_model"])
    expected = reference_multi_head_attention(x, m)

    def output_of(result):
        if isinstance(result, (tuple, list)) and result:
            result = result[0]
        return result

    result, error = _call(fn, x.clone(), m)
    if error is not None:
        return error
    out = output_of(result)
    not_tensor = _not_a_tensor(out, "the output")
    if not_tensor is not None:
        return not_tensor
    out = out.detach().cpu()
    if tuple(out.shape) != shape:
        d_head = c["d_model"] // c["n_heads"]
        if tuple(out.shape) == (c["batch"], c["n_heads"], c["n"], d_head):
            return fail(f"the output has shape {tuple(out.shape)}, expected (batch, n, d_model) = {shape}: those are "
                        "the heads. Look at the last steps", "the heads are merged back, then projected",
                        "heads.transpose(1, 2).reshape(b, n, d_model), then the output projection")
        return fail(f"the output has shape {tuple(out.shape)}, expected (batch, n, d_model) = {shape}: look at the "
                    "merge and the output projection", "print the shape after each step")
    if not torch.isfinite(out).all():
        return fail("the output contains NaN or inf without any mask: look at the softmax",
                    "torch.softmax(scores, dim=-1) is stable")
    if not _close(out, expected):
        for mistake, (message, *hints) in _mha_mistakes(c["d_model"], c["n_heads"]):
            if _close(out, reference_multi_head_attention(x, m, **mistake)):
                return fail(message, *hints)
        for order in [(0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]:
            if _close(out, reference_multi_head_attention(x, m, order=order)):
                return fail("q, k and v use the wrong chunks of m.in_proj_weight: look at the order it stacks them in",
                            "m.in_proj_weight stacks W_q, W_k, W_v in that order",
                            "W_q, W_k, W_v = m.in_proj_weight.chunk(3)")
        return fail("the output differs from m(x, x, x): look at each step in order",
                    "the projections (x @ W.T + b), the head split, the scale 1/sqrt(d_head), the softmax over the "
                    "keys, the merge and the output projection", "print each step next to the reference's on a "
                    "small input")

    # With padding: the keys where key_padding_mask is True must get no weight.
    expected_masked = reference_multi_head_attention(x, m, key_padding_mask)
    result, error = _call(fn, x.clone(), m, key_padding_mask=key_padding_mask.clone())
    if error is not None:
        return Feedback(True, "correct without a mask. Going further: accept key_padding_mask=None (bool, True = "
                              f"padding) and mask those keys out; with one, your function said: {error.message}")
    out = output_of(result)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != shape:
        return fail(f"with a key_padding_mask the output must still be a tensor of shape {shape}: look at the branch "
                    "that uses the mask", "the mask changes the weights, not the shapes")
    out = out.detach().cpu()
    fix = "scores.masked_fill(key_padding_mask[:, None, None, :], float('-inf')) before the softmax"
    if not _close(out, expected_masked):
        if _close(out, expected):
            return fail("correct without a mask, but key_padding_mask is ignored: the padded keys still get weight. "
                        "Look at where the mask enters", "a padded key must get exactly 0 after the softmax", fix)
        if _close(out, reference_multi_head_attention(x, m, key_padding_mask, mask="inverted")):
            return fail("correct without a mask, but the mask is inverted: the real tokens get no weight. Look at what "
                        "True means", "in nn.MultiheadAttention's convention True = padding, to be masked out "
                        "(attn_course and F.scaled_dot_product_attention use the opposite)", fix)
        return fail("correct without a mask, but wrong with key_padding_mask: look at which axis the mask covers",
                    "mask the keys, the last axis of the scores, broadcast over heads and queries", fix)
    return Feedback(True, "correct: projections, heads split and merged, scores scaled by 1/sqrt(d_head), "
                          "output projection, and key_padding_mask respected; the same as nn.MultiheadAttention")


# ---------------------------------------------------------------------------------------------------
# Exercise 5.4 (predict): the shape of the weights nn.MultiheadAttention returns.

_SHAPE_CASE = dict(batch=2, n_q=5, n_k=7, d_model=8, n_heads=4)
WEIGHTS_SHAPE_PREDICTION = (2, 5, 7)  # the reference of exercise 5.4


@checker
def check_weights_shape_prediction(prediction):
    """Check a prediction of the shape of the weights `m(query, key, value)` returns for
    m = nn.MultiheadAttention(8, num_heads=4) (batch_first left at its default, False), a query of shape
    (5, 2, 8) and keys and values of shape (7, 2, 8): 5 queries, 7 keys, a batch of 2."""
    import torch
    from torch import nn

    from .feedback import not_written

    if prediction is Ellipsis:  # the student edition's `prediction = ...`
        return not_written("this prediction", "the `...` in its cell")
    try:
        predicted = tuple(int(d) for d in prediction)
    except (TypeError, ValueError):
        return Feedback(False, f"a prediction is a shape, a tuple of ints such as (3, 4); got {prediction!r}")
    c = _SHAPE_CASE
    with torch.random.fork_rng(devices=[]):  # the module's initialisation must not move the learner's RNG
        m = nn.MultiheadAttention(c["d_model"], c["n_heads"])
        query, key = torch.randn(c["n_q"], c["batch"], c["d_model"]), torch.randn(c["n_k"], c["batch"], c["d_model"])
    with torch.no_grad():
        output, weights = m(query, key, key)
        _, per_head = m(query, key, key, average_attn_weights=False)
    shape = tuple(weights.shape)
    measured = f"the output has shape {tuple(output.shape)}, the weights {shape}; with average_attn_weights=False, " \
               f"{tuple(per_head.shape)}"
    if predicted == shape:
        return Feedback(True, f"right: the weights put the batch first even when the inputs do not, then one row "
                              f"per query and one column per key, the {c['n_heads']} heads averaged ({measured})")
    b, h, n_q, n_k = c["batch"], c["n_heads"], c["n_q"], c["n_k"]
    why = {(n_q, b, n_k): "the inputs and the output are (n, batch, d_model) here, but the weights are laid out "
                          "differently",
           (b, h, n_q, n_k): "that is the shape with one matrix per head; by default PyTorch returns something "
                             "smaller",
           (b, n_k, n_q): "the axes are swapped: which axis of a weight matrix belongs to the queries?",
           (n_q, n_k): "the batch axis is missing: every sequence of the batch gets its own weights"}
    return Feedback(False, f"{predicted} is not the shape: " + why.get(predicted, "count the queries, the keys, the "
                                                                                   "batch and the heads again"),
                    hints=("read what nn.MultiheadAttention.forward says about attn_output_weights",
                           f"the answer is {shape}: {measured}"))


# ---------------------------------------------------------------------------------------------------
# Exercise 5.5 (derive): the number of parameters of nn.MultiheadAttention.

def mha_parameter_count(d_model, n_heads):
    """The reference of exercise 5.5: the parameters of nn.MultiheadAttention(d_model, n_heads), counted."""
    from torch import nn

    module = nn.MultiheadAttention(d_model, n_heads, device="meta")  # shapes only: no memory, no random numbers
    return sum(p.numel() for p in module.parameters())


_COUNT_CASES = [(12, 3), (64, 8), (512, 8), (512, 1), (10, 5)]


@checker
def check_mha_parameter_count(fn):
    """Check `fn(d_model, n_heads) -> int`: how many numbers nn.MultiheadAttention(d_model, n_heads) learns
    (default arguments: biases, key and value of size d_model)."""
    got = {}
    for d, h in _COUNT_CASES:
        result, error = call(fn, d, h)
        if error is not None:
            return error
        if np.ndim(result) != 0:
            return Feedback(False, f"return one number, got {type(result).__name__}")
        got[(d, h)] = float(result)
    right = {case: mha_parameter_count(*case) for case in _COUNT_CASES}
    if all(got[c] == right[c] for c in _COUNT_CASES):
        return Feedback(True, f"correct: 4 d_model^2 + 4 d_model, whatever the number of heads; for d_model = 512, "
                              f"{right[(512, 8)]:,} with 8 heads and {right[(512, 1)]:,} with 1")

    def matches(formula):
        return all(np.isclose(got[(d, h)], formula(d, h)) for d, h in _COUNT_CASES)

    if matches(lambda d, h: 4 * d * d):
        return Feedback(False, "the weight matrices are counted, the biases are not",
                        hints=("print the names and shapes in m.named_parameters()",
                               "add one bias of d_model per projection: 4 d_model^2 + 4 d_model"))
    if matches(lambda d, h: 3 * d * d + 3 * d):
        return Feedback(False, "the projections of the queries, keys and values are counted; one more "
                               "projection is missing",
                        hints=("what mixes the heads after they are concatenated?",
                               "add the output projection out_proj, d_model^2 + d_model: 4 d_model^2 + 4 d_model"))
    if matches(lambda d, h: 4 * d * d / h + 4 * d) or matches(lambda d, h: 4 * d * d / h + 4 * d / h) \
            or matches(lambda d, h: 4 * d * d / h):
        return Feedback(False, "your count shrinks as the number of heads grows; PyTorch's does not",
                        hints=("h heads of size d_model / h each: how many columns do their projections have "
                               "together?", "the heads split d_model, they do not shrink it: 4 d_model^2 + 4 d_model"))
    d, h = next(c for c in _COUNT_CASES if got[c] != right[c])
    return Feedback(False, f"for d_model = {d}, {h} heads, you count {got[(d, h)]:g} parameters; PyTorch's module "
                           "has a different number",
                    hints=("count each of the four projections: a (d_model, d_model) weight and a bias",
                           "4 d_model^2 + 4 d_model"))


# ---------------------------------------------------------------------------------------------------
# Exercise 5.6 (hard): a causal mask and a key-padding mask together, in batched multi-head attention.

def _masked_self_attention(x, m, allowed):
    """Self-attention of nn.MultiheadAttention m on x (batch, n, d_model), with allowed (batch, n, n), True =
    may attend, as a learner writes it with masked_fill and torch.softmax (a row with no key gives NaN)."""
    import torch

    b, n, d = x.shape
    h = m.num_heads
    q, k, v = (x @ W.T + bias for W, bias in zip(m.in_proj_weight.chunk(3), m.in_proj_bias.chunk(3)))
    q, k, v = (t.unflatten(-1, (h, d // h)).transpose(1, 2) for t in (q, k, v))     # (b, h, n, d_head)
    scores = (q @ k.transpose(-2, -1) / math.sqrt(d // h)).masked_fill(~allowed[:, None], float("-inf"))
    heads = torch.softmax(scores, dim=-1) @ v                                         # (b, h, n, d_head)
    return heads.transpose(1, 2).flatten(-2) @ m.out_proj.weight.T + m.out_proj.bias  # (b, n, d_model)


def causal_padded_attention(x, m, key_padding_mask):
    """The reference of exercise 5.6, from the package's NumPy multi-head attention: causal self-attention
    of nn.MultiheadAttention m (batch first) on x (batch, n, d_model), where key_padding_mask (batch, n),
    True = padding, also takes the padding keys out."""
    import torch

    from ..multihead import MultiHeadParams, multi_head_attention

    allowed = ~key_padding_mask.cpu().numpy()[:, None, :]  # (batch, 1, n): True = may attend
    output, _ = multi_head_attention(x.cpu().numpy(), x.cpu().numpy(), MultiHeadParams.from_torch(m), m.num_heads,
                                     mask=allowed, causal=True)
    return torch.from_numpy(output).to(x.device)


@checker
def check_causal_padded_attention(fn):
    """Check `fn(x, m, key_padding_mask) -> (batch, n, d_model)`: what m(x, x, x) computes with a causal mask
    (query i attends to keys j <= i) and key_padding_mask (batch, n), True = padding, both applied, from the
    parameters of m (nn.MultiheadAttention, batch_first=True)."""
    import torch

    m, x, key_padding_mask = _mha_case(seed=3)
    b, n, d = x.shape
    result, error = _call(fn, x, m, key_padding_mask.clone())
    if error is not None:
        return error
    wrong = _not_a_tensor(result, "the output")
    if wrong is not None:
        return wrong
    if tuple(result.shape) != (b, n, d):
        return Feedback(False, f"the output has shape {tuple(result.shape)}, expected (batch, n, d_model) = {(b, n, d)}")
    out = result.detach().to(torch.float64).cpu()
    expected = causal_padded_attention(x, m, key_padding_mask)
    if _close(out, expected):
        return Feedback(True, "correct: each query attends to the real keys at or before its position; the causal "
                              "mask and the padding mask combined with AND, in every head and every sequence")
    causal = torch.ones(n, n, dtype=torch.bool).tril()
    real = ~key_padding_mask[:, None, :]                                    # (b, 1, n)

    def same(allowed):
        with torch.no_grad():
            variant = _masked_self_attention(x, m, allowed.expand(b, n, n))
        return torch.allclose(out, variant, rtol=1e-5, atol=1e-6, equal_nan=True)

    variants = [
        (causal & ~real, "the padding mask is inverted: the queries attend to the padding and not to the real "
                         "tokens", ("key_padding_mask is True at padding", "allowed = causal & ~key_padding_mask")),
        (real.expand(b, n, n), "the queries see the real tokens AFTER their own position: the causal mask is missing",
         ("which keys may query i see in a decoder?", "allowed = causal & ~key_padding_mask[:, None, :]")),
        (causal.expand(b, n, n), "the queries attend to padding keys: the padding mask is missing",
         ("which keys does key_padding_mask take out?", "allowed = causal & ~key_padding_mask[:, None, :]")),
        (causal.T & real, "each query sees the keys at or AFTER its position: the causal mask is transposed",
         ("row i of the scores is query i, column j key j", "causal = torch.ones(n, n, dtype=torch.bool).tril()")),
        (causal | real, "a key is allowed when it is earlier OR real: the two masks are combined with OR",
         ("a key must pass both masks", "allowed = causal & ~key_padding_mask[:, None, :]")),
        (causal & real.transpose(-1, -2), "the padding mask is applied to the queries, not to the keys",
         ("key_padding_mask (batch, n) marks keys: which axis of the (n, n) scores are the keys?",
          "broadcast it as key_padding_mask[:, None, :], over the rows")),
    ]
    for allowed, message, hints in variants:
        if same(allowed):
            return Feedback(False, message, hints=hints)
    if not torch.isfinite(out).all():
        return Feedback(False, "the output contains NaN: some query has no key left, or -inf met -inf",
                        hints=("with right padding and the causal mask, every query keeps key 0",))
    return Feedback(False, "the output differs from causal self-attention with the padding keys taken out",
                    hints=("check your multi-head attention of exercise 5.3 without masks first",
                           "allowed = causal & ~key_padding_mask[:, None, :]; scores.masked_fill(~allowed[:, None], "
                           "-inf) before the softmax"))


# The typical wrong answers of exercise 5.6 differ in the line that builds `allowed` only.
_MASKED_MHA = """import math
import torch
def causal_padded_attention(x, m, key_padding_mask):
    b, n, d = x.shape
    h = m.num_heads
    q, k, v = (x @ W.T + bias for W, bias in zip(m.in_proj_weight.chunk(3), m.in_proj_bias.chunk(3)))
    q, k, v = (t.unflatten(-1, (h, d // h)).transpose(1, 2) for t in (q, k, v))
    causal = torch.ones(n, n, dtype=torch.bool, device=x.device).tril()
"""
_MASKED_MHA_END = """    scores = (q @ k.transpose(-2, -1) / math.sqrt(d // h)).masked_fill(~allowed[:, None], float("-inf"))
    heads = torch.softmax(scores, dim=-1) @ v
    return heads.transpose(1, 2).flatten(-2) @ m.out_proj.weight.T + m.out_proj.bias
"""


def _padding_mistake(body):
    return f"import torch\n\ndef to_key_padding_mask(mask):\n    return {body}\n"


def _heads_mistake(split="x.reshape(b, n, n_heads, d // n_heads).transpose(1, 2)",
                   merge="x.transpose(1, 2).reshape(b, n, h * d_head)"):
    return (f"def split_heads(x, n_heads):\n    b, n, d = x.shape\n    return {split}\n\n"
            f"def merge_heads(x):\n    b, h, n, d_head = x.shape\n    return {merge}\n")


def _mha_mistake(**switches):
    """A multi_head_attention that makes the mistake `switches` name (see reference_multi_head_attention)."""
    args = ", ".join(f"{k}={v!r}" for k, v in switches.items())
    return ("from attn_course.exercises.practice import reference_multi_head_attention as right\n\n"
            "def multi_head_attention(x, m, key_padding_mask=None):\n"
            f"    return right(x, m, key_padding_mask, {args})\n")


EXERCISES = [
    Exercise(checker=check_split_heads, reference=("attn_course.multihead.split_heads", "attn_course.multihead.merge_heads"),
             chapter="05_practice", solution=("split_heads", "merge_heads"), level="debug", mistakes=(
                 Mistake(_heads_mistake(split="x.reshape(b, n_heads, n, d // n_heads)"),
                         "split: one head gets pieces of several positions"),
                 Mistake(_heads_mistake(split="x.reshape(b, n_heads, n, d // n_heads)", merge="x.reshape(b, n, h * d_head)"),
                         "merge(split(x)) == x does not prove them right"),
                 Mistake(_heads_mistake(split="x.reshape(b, n, d // n_heads, n_heads).permute(0, 3, 1, 2)"),
                         "every 3-th column"),
                 Mistake(_heads_mistake(split="x.reshape(b, n, n_heads, d // n_heads)"), "that is the reshape alone"),
                 Mistake(_heads_mistake(split="x.reshape(b, n, n_heads, d // n_heads).permute(0, 2, 3, 1)"),
                         "the last two axes are swapped"),
                 Mistake(_heads_mistake(merge="x.reshape(b, n, h * d_head)"), "merge: the heads' outputs"),
                 Mistake(_heads_mistake(merge="x.transpose(1, 2).view(b, n, h * d_head)"), "look at the memory layout"),
                 Mistake(_heads_mistake(merge="x.flatten(-2)"), "merge: shape (2, 3, 20)"),
                 Mistake(_heads_mistake(split="x.reshape(b, n, n_heads, d // n_heads).transpose(1, 2).numpy()"),
                         "must be a torch.Tensor"),
             )),
    Exercise(checker=check_key_padding_mask, reference="attn_course.exercises.practice.to_key_padding_mask",
             chapter="05_practice", solution="to_key_padding_mask", level="debug", mistakes=(
                 Mistake(_padding_mistake("torch.from_numpy(mask[:, 0, :])"), "not flipped"),   # mask inverted
                 Mistake(_padding_mistake("~torch.from_numpy(mask)"), "(3, 1, 5)"),
                 Mistake(_padding_mistake("(~torch.from_numpy(mask[:, 0, :])).float()"), "a float mask"),
                 Mistake(_padding_mistake("(~torch.from_numpy(mask[:, 0, :])).long()"), "torch.int64"),
                 Mistake(_padding_mistake("~mask[:, 0, :]"), "must be a torch.Tensor"),
                 Mistake(_padding_mistake("~torch.from_numpy(mask[:, 0, :].T.copy())"), "shape (5, 3)"),
                 Mistake(_padding_mistake("~torch.from_numpy(np.roll(mask[:, 0, :], 1, axis=1))"),
                         "wrong at (sequence, position)"),
             )),
    Exercise(checker=check_multi_head_attention, reference="attn_course.exercises.practice.reference_multi_head_attention",
             chapter="05_practice", solution="multi_head_attention", level="implement", mistakes=(
                 Mistake(_mha_mistake(scale="none"), "not scaled"),
                 Mistake(_mha_mistake(scale="d_model"), "sqrt(d_model) = sqrt(12)"),
                 Mistake(_mha_mistake(split="no_transpose"), "wrong head split"),
                 Mistake(_mha_mistake(split="interleaved", merge="interleaved"), "every n_heads-th column"),
                 Mistake(_mha_mistake(merge="no_transpose"), "wrong head merge"),
                 Mistake(_mha_mistake(out_proj=False), "the concatenated heads"),
                 Mistake(_mha_mistake(bias=False), "biases are missing"),
                 Mistake(_mha_mistake(transpose_weights=False), "untransposed"),
                 Mistake(_mha_mistake(softmax_dim=-2), "over the queries"),
                 Mistake(_mha_mistake(order=(1, 0, 2)), "wrong chunks"),
                 Mistake(_mha_mistake(mask="ignored"), "key_padding_mask is ignored"),
                 Mistake(_mha_mistake(mask="inverted"), "the mask is inverted"),
             )),
    Exercise(checker=check_weights_shape_prediction,
             reference="attn_course.exercises.practice.WEIGHTS_SHAPE_PREDICTION",
             chapter="05_practice", solution="weights_shape_prediction", level="predict",
             mistakes=(Mistake("weights_shape_prediction = (5, 2, 7)", "the weights are laid out differently"),
                       Mistake("weights_shape_prediction = (2, 4, 5, 7)", "the shape with one matrix per head"),
                       Mistake("weights_shape_prediction = (2, 7, 5)", "the axes are swapped"))),
    Exercise(checker=check_mha_parameter_count, reference="attn_course.exercises.practice.mha_parameter_count",
             chapter="05_practice", solution="mha_parameter_count", level="derive", points=2,
             mistakes=(Mistake("def mha_parameter_count(d_model, n_heads):\n    return 4 * d_model ** 2",
                               "the biases are not"),
                       Mistake("def mha_parameter_count(d_model, n_heads):\n    return 3 * d_model ** 2 + 3 * d_model",
                               "one more projection is missing"),
                       Mistake("def mha_parameter_count(d_model, n_heads):\n"
                               "    return 4 * d_model ** 2 // n_heads + 4 * d_model",
                               "shrinks as the number of heads grows"))),
    Exercise(checker=check_causal_padded_attention, reference="attn_course.exercises.practice.causal_padded_attention",
             chapter="05_practice", solution="causal_padded_attention", level="hard", points=3,
             mistakes=(Mistake(_MASKED_MHA + "    allowed = causal & key_padding_mask[:, None, :]\n" + _MASKED_MHA_END,
                               "the padding mask is inverted"),
                       Mistake(_MASKED_MHA + "    allowed = causal | ~key_padding_mask[:, None, :]\n" + _MASKED_MHA_END,
                               "combined with OR"),
                       Mistake(_MASKED_MHA + "    allowed = causal.T & ~key_padding_mask[:, None, :]\n" + _MASKED_MHA_END,
                               "the causal mask is transposed"),
                       Mistake(_MASKED_MHA + "    allowed = causal & ~key_padding_mask[:, :, None]\n" + _MASKED_MHA_END,
                               "applied to the queries"))),
]
