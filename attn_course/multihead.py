"""Multi-head attention, in NumPy.

One attention computes one weighted average per query. Multi-head attention runs h of them side by
side, each in its own d_model/h-dimensional subspace, so that different heads can attend to different
things (one to the previous token, one to the subject of the sentence ...):

    q, k, v  = x_q W_q + b_q,  x_kv W_k + b_k,  x_kv W_v + b_v     (..., n, d_model)
    head_i   = attention(q_i, k_i, v_i)     q_i: the i-th slice of d_model/h columns of q
    output   = concat(head_1, ..., head_h) W_o + b_o

Vaswani et al., "Attention Is All You Need", NIPS 2017, sec. 3.2.2. Self-attention is x_q = x_kv;
cross-attention (a decoder reading the encoder) is x_q from one sequence, x_kv from another.

Vectors are rows, as in the paper's Q W^Q: W_q has shape (d_model, d_model) = (in, out). torch.nn.Linear
stores the transpose, (out, in); MultiHeadParams.from_torch does that bookkeeping.

project (x W + b) and check_inputs (the validated inputs of multi_head_attention) are public because the
backward pass (attn_course.backward) computes the same projections from the same checked inputs.
"""
from dataclasses import dataclass, fields

import numpy as np

from ._checks import as_float_array, as_mask, batch_shape, has_shape, positive_int
from .attention import scaled_dot_product_attention


@dataclass
class MultiHeadParams:
    """The four projections of multi-head attention; biases are optional (None = no bias).

    W_q, W_k, W_v, W_o: (d_model, d_model), applied as x @ W.   b_q, b_k, b_v, b_o: (d_model,) or None.
    """
    W_q: np.ndarray
    W_k: np.ndarray
    W_v: np.ndarray
    W_o: np.ndarray
    b_q: np.ndarray = None
    b_k: np.ndarray = None
    b_v: np.ndarray = None
    b_o: np.ndarray = None

    def __post_init__(self):
        W_q = as_float_array(self.W_q, "W_q", min_ndim=2)
        d = W_q.shape[0]
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.startswith("W"):
                value = has_shape(as_float_array(value, f.name), f.name, (d, d), "(d_model, d_model)")
            elif value is not None:
                value = has_shape(as_float_array(value, f.name), f.name, (d,), "(d_model,)")
            setattr(self, f.name, value)

    @property
    def d_model(self):
        return self.W_q.shape[0]

    @classmethod
    def from_torch(cls, module):
        """The weights of a torch.nn.MultiheadAttention (embed_dim = kdim = vdim), as float NumPy arrays.

        PyTorch packs W_q, W_k, W_v into one (3 d_model, d_model) `in_proj_weight`, rows = outputs.
        """
        if getattr(module, "in_proj_weight", None) is None:
            raise ValueError("module must be a torch.nn.MultiheadAttention with kdim = vdim = embed_dim "
                             f"(a packed in_proj_weight), got {type(module).__name__}")
        if module.bias_k is not None or module.add_zero_attn:
            raise ValueError("module must not use add_bias_kv or add_zero_attn: they add keys these params do not have")

        def numpy(t):
            return None if t is None else t.detach().cpu().numpy().copy()

        W_q, W_k, W_v = np.split(numpy(module.in_proj_weight), 3)
        b_q, b_k, b_v = (None,) * 3 if module.in_proj_bias is None else np.split(numpy(module.in_proj_bias), 3)
        return cls(W_q.T, W_k.T, W_v.T, numpy(module.out_proj.weight).T,
                   b_q, b_k, b_v, numpy(module.out_proj.bias))


def init_params(d_model, rng, *, bias=True):
    """Random MultiHeadParams (float64): Xavier-uniform weights, zero biases (None with bias=False).

    rng: a np.random.Generator or a seed. Xavier initialisation (Glorot & Bengio, AISTATS 2010) keeps
    the variance of x @ W near that of x: uniform on +-sqrt(6 / (fan_in + fan_out)).
    """
    d_model = positive_int(d_model, "d_model")
    rng = np.random.default_rng(rng)
    limit = np.sqrt(6 / (2 * d_model))
    W_q, W_k, W_v, W_o = rng.uniform(-limit, limit, (4, d_model, d_model))
    b = np.zeros(d_model) if bias else None
    return MultiHeadParams(W_q, W_k, W_v, W_o, *(b if b is None else b.copy() for _ in range(4)))


def split_heads(x, n_heads):
    """(..., n, d_model) -> (..., n_heads, n, d_model / n_heads): head i gets columns i*d_head ... (i+1)*d_head - 1."""
    n_heads = positive_int(n_heads, "n_heads")
    *batch, n, d_model = x.shape
    if d_model % n_heads:
        raise ValueError(f"d_model must be divisible by n_heads: got d_model = {d_model}, n_heads = {n_heads}")
    return np.swapaxes(x.reshape(*batch, n, n_heads, d_model // n_heads), -3, -2)


def merge_heads(x):
    """(..., n_heads, n, d_head) -> (..., n, n_heads * d_head), the inverse of split_heads."""
    *batch, n_heads, n, d_head = x.shape
    return np.swapaxes(x, -3, -2).reshape(*batch, n, n_heads * d_head)


def padding_mask(lengths, n):
    """Key mask for a batch of sequences padded to length n: True = a real token, False = padding.

    lengths: (...,) ints in [0, n]  ->  (..., 1, n), which broadcasts over the queries of (..., n_q, n).
    """
    n = positive_int(n, "n")
    lengths = np.asarray(lengths)
    if lengths.dtype.kind not in "iu":
        raise TypeError(f"lengths must be integers, got dtype {lengths.dtype}")
    if lengths.size and not (lengths.min() >= 0 and lengths.max() <= n):
        raise ValueError(f"lengths must lie in [0, n] = [0, {n}], got {lengths.min()} ... {lengths.max()}")
    return (np.arange(n) < lengths[..., None])[..., None, :]


def project(x, W, b):
    """x @ W + b, the bias skipped when None.  x: (..., n, d_in)  W: (d_in, d_out)  b: (d_out,) or None"""
    return x @ W if b is None else x @ W + b


def multi_head_attention(x_q, x_kv, params, n_heads, *, mask=None, causal=False):
    """h heads of scaled dot-product attention over learned projections; returns (output, weights).

    x_q: (..., n_q, d_model) the sequence asking   x_kv: (..., n_k, d_model) the sequence attended to
    params: MultiHeadParams   n_heads: divides d_model
    mask: bool, broadcastable to (..., n_q, n_k), True = may attend, the same for every head.
    output: (..., n_q, d_model)   weights: (..., n_heads, n_q, n_k)
    """
    x_q, x_kv, params, mask = check_inputs(x_q, x_kv, params, n_heads, mask)
    q = split_heads(project(x_q, params.W_q, params.b_q), n_heads)   # (..., h, n_q, d_head)
    k = split_heads(project(x_kv, params.W_k, params.b_k), n_heads)  # (..., h, n_k, d_head)
    v = split_heads(project(x_kv, params.W_v, params.b_v), n_heads)  # (..., h, n_k, d_head)
    heads, weights = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal)
    return project(merge_heads(heads), params.W_o, params.b_o), weights


def check_inputs(x_q, x_kv, params, n_heads, mask):
    """Validated inputs of multi_head_attention; the mask gains a head axis: (..., 1, n_q, n_k)."""
    if not isinstance(params, MultiHeadParams):
        raise TypeError(f"params must be a MultiHeadParams (see init_params), got {type(params).__name__}")
    x_q = as_float_array(x_q, "x_q", min_ndim=2)
    x_kv = as_float_array(x_kv, "x_kv", min_ndim=2)
    d = params.d_model
    for x, name in ((x_q, "x_q"), (x_kv, "x_kv")):
        if x.shape[-1] != d:
            raise ValueError(f"{name} must have last dimension d_model = {d} (the size of params), got shape {x.shape}")
    n_heads = positive_int(n_heads, "n_heads")
    if d % n_heads:
        raise ValueError(f"d_model must be divisible by n_heads: got d_model = {d}, n_heads = {n_heads}")
    batch = batch_shape((x_q, "x_q"), (x_kv, "x_kv"))
    if mask is not None:
        mask = as_mask(mask, "mask", (*batch, x_q.shape[-2], x_kv.shape[-2]))
        if mask.ndim >= 2:
            mask = mask[..., None, :, :]  # the same mask for every head
    return x_q, x_kv, params, mask
