"""Attention in PyTorch: the NumPy functions of this package, as differentiable modules on any device.

    import attn_course.nn as ann            (`import attn_course` alone never imports torch)

scaled_dot_product_attention and MultiHeadAttention compute exactly what attn_course's NumPy versions
compute (Vaswani et al., "Attention Is All You Need", NIPS 2017, sec. 3.2), but on tensors, so
autograd gives the backward pass and the same code runs on a GPU. They also return the weights,
which is what the course draws; torch.nn.functional.scaled_dot_product_attention does not, and is
faster for it (it never stores the n_q x n_k matrix).

Boolean masks: mind the convention.
    attn_course (NumPy and here), torch.nn.functional.scaled_dot_product_attention:
        True = MAY attend.
    torch.nn.MultiheadAttention's attn_mask and key_padding_mask:
        True = may NOT attend (the key is masked out).
So `mask=padding` here is `key_padding_mask=~padding` there. A float mask is added to the scores in
both of PyTorch's APIs; this package takes only boolean masks.
Causal masks: here (as in attn_course.causal_mask) query i of n_q may attend to key j <= i + n_k - n_q,
the diagonal aligned to the bottom right as when decoding with a cache; PyTorch's is_causal=True aligns
it to the top left. The two agree when n_q = n_k.
"""
import math

import torch
from torch import nn

from ._checks import positive


def causal_mask(n_q, n_k=None, device=None):
    """(n_q, n_k) bool tensor, True where query i may attend to key j <= i + n_k - n_q (as attn_course.causal_mask)."""
    n_k = n_q if n_k is None else n_k
    return torch.ones(n_q, n_k, dtype=torch.bool, device=device).tril(diagonal=n_k - n_q)


def scaled_dot_product_attention(q, k, v, *, mask=None, causal=False, scale=None):
    """softmax(q k^T * scale) v, returning (output, weights); the tensor twin of attn_course's NumPy version.

    q: (..., n_q, d_k)  k: (..., n_k, d_k)  v: (..., n_k, d_v), floating tensors on one device.
    mask: bool tensor broadcastable to (..., n_q, n_k), True = may attend. causal: also apply causal_mask.
    scale: default 1/sqrt(d_k).  output: (..., n_q, d_v)  weights: (..., n_q, n_k); a query that may
    attend to no key gets zero weights and a zero output (as recent F.scaled_dot_product_attention does;
    torch.nn.MultiheadAttention gives NaN there).
    Values are not checked for NaN: that would cost a device synchronisation on every call.
    """
    _check_tensors(q=q, k=k, v=v)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must share the last dimension d_k: q has shape {tuple(q.shape)}, "
                         f"k has shape {tuple(k.shape)}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have one value per key: k has {k.shape[-2]} keys (shape {tuple(k.shape)}), "
                         f"v has {v.shape[-2]} values (shape {tuple(v.shape)})")
    if len({q.dtype, k.dtype, v.dtype}) > 1 or len({q.device, k.device, v.device}) > 1:
        raise TypeError(f"q, k and v must share one dtype and device, got q: {q.dtype} on {q.device}, "
                        f"k: {k.dtype} on {k.device}, v: {v.dtype} on {v.device}")
    try:
        torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ValueError(f"leading (batch) dimensions of q {tuple(q.shape[:-2])}, k {tuple(k.shape[:-2])} "
                         f"and v {tuple(v.shape[:-2])} do not broadcast") from None
    n_q, n_k = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else positive(scale, "scale")

    scores = (q * scale) @ k.transpose(-2, -1)  # (..., n_q, n_k)
    allowed = None if mask is None else _as_mask(mask, scores.shape, q.device)
    if causal:
        c = causal_mask(n_q, n_k, device=q.device)
        allowed = c if allowed is None else allowed & c
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if allowed is not None:
        # A fully masked row is softmax(all -inf) = NaN; zero it. (The gradient is zero there, too:
        # masked_fill passes none back to the entries it overwrote.)
        weights = weights.masked_fill(~allowed, 0.0)
    return weights @ v, weights


class MultiHeadAttention(nn.Module):
    """Multi-head attention, batch first, as attn_course.multi_head_attention; returns (output, weights).

    forward(x_q, x_kv=None, *, mask=None, causal=False):
        x_q: (..., n_q, d_model)  x_kv: (..., n_k, d_model), default x_q (self-attention)
        mask: bool, broadcastable to (..., n_q, n_k), True = may attend, the same for every head
        output: (..., n_q, d_model)  weights: (..., n_heads, n_q, n_k), one pattern per head
    The projections W_q, W_k, W_v, W_o are nn.Linear layers: y = x @ W.weight.T + W.bias.
    """

    def __init__(self, d_model, n_heads, bias=True):
        super().__init__()
        if not (isinstance(n_heads, int) and isinstance(d_model, int) and n_heads > 0 and d_model > 0):
            raise ValueError(f"d_model and n_heads must be positive ints, got d_model={d_model!r}, n_heads={n_heads!r}")
        if d_model % n_heads:
            raise ValueError(f"d_model must be divisible by n_heads: got d_model = {d_model}, n_heads = {n_heads}")
        self.d_model, self.n_heads = d_model, n_heads
        self.W_q, self.W_k, self.W_v, self.W_o = (nn.Linear(d_model, d_model, bias=bias) for _ in range(4))

    def forward(self, x_q, x_kv=None, *, mask=None, causal=False):
        x_kv = x_q if x_kv is None else x_kv
        _check_tensors(x_q=x_q, x_kv=x_kv)
        for x, name in ((x_q, "x_q"), (x_kv, "x_kv")):
            if x.shape[-1] != self.d_model:
                raise ValueError(f"{name} must have last dimension d_model = {self.d_model}, got shape {tuple(x.shape)}")
        if mask is not None:
            batch = torch.broadcast_shapes(x_q.shape[:-2], x_kv.shape[:-2])
            mask = _as_mask(mask, (*batch, x_q.shape[-2], x_kv.shape[-2]), x_q.device)
            mask = mask.unsqueeze(-3) if mask.dim() >= 2 else mask  # the same mask for every head
        q, k, v = self._split(self.W_q(x_q)), self._split(self.W_k(x_kv)), self._split(self.W_v(x_kv))
        heads, weights = scaled_dot_product_attention(q, k, v, mask=mask, causal=causal)
        return self.W_o(self._merge(heads)), weights

    def _split(self, x):
        """(..., n, d_model) -> (..., n_heads, n, d_head)"""
        return x.unflatten(-1, (self.n_heads, -1)).transpose(-3, -2)

    def _merge(self, x):
        """(..., n_heads, n, d_head) -> (..., n, d_model)"""
        return x.transpose(-3, -2).flatten(-2)

    @classmethod
    def from_torch(cls, m):
        """A MultiHeadAttention with the weights (and dtype, device) of a torch.nn.MultiheadAttention `m`.

        Ours is always batch first: for m with batch_first=False, m(x, x, x) takes (n, batch, d_model)
        where ours takes (batch, n, d_model). m's masks mean True = NOT allowed; ours True = allowed.
        """
        if not isinstance(m, nn.MultiheadAttention):
            raise TypeError(f"m must be a torch.nn.MultiheadAttention, got {type(m).__name__}")
        if m.in_proj_weight is None:
            raise ValueError("m must have kdim = vdim = embed_dim (a packed in_proj_weight); "
                             f"got kdim={m.kdim}, vdim={m.vdim}, embed_dim={m.embed_dim}")
        if m.bias_k is not None or m.add_zero_attn:
            raise ValueError("m must not use add_bias_kv or add_zero_attn: they add keys this module does not have")
        ours = cls(m.embed_dim, m.num_heads, bias=m.in_proj_bias is not None)
        ours.to(device=m.in_proj_weight.device, dtype=m.in_proj_weight.dtype)
        with torch.no_grad():
            for layer, weight in zip((ours.W_q, ours.W_k, ours.W_v), m.in_proj_weight.chunk(3)):
                layer.weight.copy_(weight)  # both are (out, in): no transpose
            ours.W_o.weight.copy_(m.out_proj.weight)
            if m.in_proj_bias is not None:
                for layer, bias in zip((ours.W_q, ours.W_k, ours.W_v), m.in_proj_bias.chunk(3)):
                    layer.bias.copy_(bias)
                ours.W_o.bias.copy_(m.out_proj.bias)
        return ours


class EncoderBlock(nn.Module):
    """One Transformer encoder layer, pre-norm: each sublayer reads a layer-normalised copy of x and adds to x.

        x = x + attention(norm_1(x))
        x = x + feed_forward(norm_2(x))          feed_forward: Linear(d_model, d_ff), ReLU, Linear(d_ff, d_model)

    Pre-norm (Xiong et al., "On Layer Normalization in the Transformer Architecture", ICML 2020; GPT-2)
    keeps an un-normalised residual path from input to output, so deep stacks train without the learning
    rate warm-up that the original post-norm x = norm(x + sublayer(x)) of Vaswani et al. needs.
    Same computation as torch.nn.TransformerEncoderLayer(norm_first=True, dropout=0, batch_first=True).
    forward(x, *, mask=None, causal=False) -> (output, weights); x: (..., n, d_model), weights as in
    MultiHeadAttention.
    """

    def __init__(self, d_model, n_heads, d_ff=None, bias=True):
        super().__init__()
        d_ff = 4 * d_model if d_ff is None else d_ff
        self.norm_1, self.norm_2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attention = MultiHeadAttention(d_model, n_heads, bias=bias)
        self.feed_forward = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Linear(d_ff, d_model))

    def forward(self, x, *, mask=None, causal=False):
        attended, weights = self.attention(self.norm_1(x), mask=mask, causal=causal)
        x = x + attended
        x = x + self.feed_forward(self.norm_2(x))
        return x, weights


def _check_tensors(**tensors):
    for name, t in tensors.items():
        if not isinstance(t, torch.Tensor):
            hint = "; use attn_course's NumPy functions for arrays, or torch.from_numpy" \
                if type(t).__module__ == "numpy" else ""
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}{hint}")
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
        if t.dim() < 2:
            raise ValueError(f"{name} must have at least 2 dimensions (..., n, d), got shape {tuple(t.shape)}")


def _as_mask(mask, shape, device):
    """`mask` as a bool tensor on `device` that broadcasts to `shape`. True = may attend."""
    mask = torch.as_tensor(mask, device=device)
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be a boolean tensor (True = may attend), got dtype {mask.dtype}")
    try:
        broadcast = torch.broadcast_shapes(mask.shape, shape)
    except RuntimeError:
        broadcast = None
    if broadcast != torch.Size(shape):
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to {tuple(shape)}")
    return mask
