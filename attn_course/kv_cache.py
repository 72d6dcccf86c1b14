"""Decoding with a KV cache: a language model writes one token per step, and each step needs the keys and
values of every earlier token, which do not change once computed. So keep them.

    from attn_course import kv_cache          (imports torch; `import attn_course` alone does not)

- KVCache            per layer, the keys and values (B, heads, t, d_head) of the t tokens read so far
- forward_cached     run a GPT (attn_course.transformer.GPT) on new tokens only: their queries attend to the
                     cached keys and values plus their own, causal with the diagonal at the bottom right
                     (attn_course.nn.causal_mask), their positions continuing from the cache's length
- generate_cached    greedy decoding: the prompt in one pass (prefill), then one token per step
- forward_flops, generation_flops
                     the multiply-add FLOPs (2 per multiply-add) of the matrix products, counted from the
                     shapes; torch.utils.flop_counter.FlopCounterMode counts the same (tests/test_kv_cache.py)
- cache_bytes        the cache's memory: 2 (keys and values) x layers x kv heads x d_head x tokens x batch
- grouped_query_attention
                     multi-query (Shazeer, 2019) and grouped-query attention (Ainslie et al., EMNLP 2023):
                     h query heads share g <= h key/value heads, so the cache holds g heads, not h

Without a cache, step L of generation recomputes the whole L x L causal score matrix (and every
projection) of a sequence that only grew by one token; with it, the step computes one row.
"""
import torch

from ._checks import token_ids
from .nn import causal_mask, scaled_dot_product_attention


class KVCache:
    """The keys and values of every token read so far, one (k, v) pair of tensors (B, h, t, d_head) per layer."""

    def __init__(self, n_layers):
        if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
            raise ValueError(f"n_layers must be a positive int, got {n_layers!r}")
        self.keys, self.values = [None] * n_layers, [None] * n_layers

    def __len__(self):
        """t: the number of tokens cached (the position the next token will have)."""
        return 0 if self.keys[0] is None else self.keys[0].shape[-2]

    def append(self, layer, k, v):
        """Add the new tokens' k, v (B, h, t_new, d_head) to layer `layer`; return all of them (B, h, t + t_new, d_head)."""
        if self.keys[layer] is not None:
            k = torch.cat([self.keys[layer], k], dim=-2)
            v = torch.cat([self.values[layer], v], dim=-2)
        self.keys[layer], self.values[layer] = k, v
        return k, v

    def nbytes(self):
        """The memory the cached tensors hold, in bytes."""
        return sum(t.numel() * t.element_size() for t in self.keys + self.values if t is not None)


def _check_causal(model):
    n = model.max_len
    if not torch.equal(torch.as_tensor(model.mask(n)).cpu(), causal_mask(n)):
        raise ValueError("the model's mask is not the causal mask: a cache holds the keys of the past, which is all "
                         "a causal model may read; a model that reads later tokens cannot decode one token at a time")


def forward_cached(model, ids, cache):
    """Logits (B, T_new, vocab) for the new tokens `ids` (B, T_new) of a GPT, after the len(cache) tokens cached;
    appends their keys and values to `cache`. The same logits as model(all tokens so far)[0][:, -T_new:]."""
    ids = token_ids(ids, "ids", model.vocab_size)
    start, n_new = len(cache), ids.shape[1]
    if start + n_new > model.max_len:
        raise ValueError(f"{start} cached + {n_new} new tokens is more than this model's max_len = {model.max_len} "
                         f"positions: its position encodings stop there")
    embed = model.embed
    x = embed.token(ids) * embed.scale + embed.pe[start:start + n_new]          # (B, T_new, d): positions go on
    for layer, block in enumerate(model.blocks):
        attention = block.attention
        h = block.norm_1(x)
        q = attention._split(attention.W_q(h))                                    # (B, heads, T_new, d_head)
        k, v = cache.append(layer, attention._split(attention.W_k(h)), attention._split(attention.W_v(h)))
        heads, _ = scaled_dot_product_attention(q, k, v, causal=True)             # (B, heads, T_new, d_head)
        x = x + attention.W_o(attention._merge(heads))                            # k, v: (B, heads, t + T_new, d_head)
        x = x + block.feed_forward(block.norm_2(x))
    return model.head(model.norm(x))                                             # (B, T_new, vocab)


@torch.no_grad()
def generate_cached(model, ids, n_new):
    """Greedy decoding with a cache: model.generate(ids, n_new)'s tokens, where the prompt and the tokens fit in
    the model's context (len(prompt) + n_new - 1 <= max_len). Returns (B, T + n_new) ids."""
    _check_causal(model)
    if isinstance(n_new, bool) or not isinstance(n_new, int) or n_new < 1:
        raise ValueError(f"n_new must be a positive int, got {n_new!r}")
    ids = token_ids(ids, "ids", model.vocab_size)
    if ids.shape[1] + n_new - 1 > model.max_len:
        raise ValueError(f"a prompt of {ids.shape[1]} tokens and {n_new} new ones need {ids.shape[1] + n_new - 1} "
                         f"positions, more than max_len = {model.max_len}: past it every position would shift, and "
                         f"the cached keys (computed at the old positions) would be stale")
    cache = KVCache(len(model.blocks))
    logits = forward_cached(model, ids, cache)                                  # prefill: the whole prompt at once
    for step in range(n_new):
        nxt = logits[:, -1].argmax(-1, keepdim=True)                            # (B, 1)
        ids = torch.cat([ids, nxt], dim=1)
        if step < n_new - 1:                                                    # the last token is written, not read
            logits = forward_cached(model, nxt, cache)                          # one token: one row of scores
    return ids


def _dims(model):
    block = model.blocks[0]
    return (model.embed.token.embedding_dim, block.feed_forward[0].out_features, len(model.blocks),
            model.head.out_features)


def forward_flops(model, n_new, n_keys):
    """FLOPs (2 per multiply-add) of the matrix products of one forward pass of a GPT over n_new tokens whose
    queries attend to n_keys keys (n_keys = n_new without a cache). Per layer: the projections W_q, W_k, W_v, W_o
    (4 x 2 n_new d^2), the scores q k^T and the weighted sum (2 x 2 n_new n_keys d, all heads together) and the
    feed-forward layer (2 x 2 n_new d d_ff); then the read-out (2 n_new d vocab). Layer norms, softmax, biases and
    additions are left out: they cost O(n d), not a matrix product."""
    d, d_ff, n_layers, vocab = _dims(model)
    per_layer = 8 * n_new * d * d + 4 * n_new * n_keys * d + 4 * n_new * d * d_ff
    return n_layers * per_layer + 2 * n_new * d * vocab


def generation_flops(model, n_prompt, n_new, cached):
    """(n_new,) list: the FLOPs of each step of greedy decoding n_new tokens after a prompt of n_prompt tokens.
    Step s (from 0) reads a sequence of L = n_prompt + s tokens: without a cache the whole sequence
    (forward_flops(L, L)); with one the prompt in the first step, then only the newest token (forward_flops(1, L))."""
    steps = []
    for s in range(n_new):
        length = n_prompt + s
        steps.append(forward_flops(model, length, length) if not cached or s == 0 else forward_flops(model, 1, length))
    return steps


def cache_bytes(n_layers, n_kv_heads, d_head, n_tokens, batch=1, bytes_per_value=2):
    """The memory of a KV cache: keys and values (2) for every layer, key/value head, coordinate, token and
    sequence of the batch, at bytes_per_value each (2 for float16 / bfloat16)."""
    for name, value in (("n_layers", n_layers), ("n_kv_heads", n_kv_heads), ("d_head", d_head),
                        ("n_tokens", n_tokens), ("batch", batch), ("bytes_per_value", bytes_per_value)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    return 2 * n_layers * n_kv_heads * d_head * n_tokens * batch * bytes_per_value


def grouped_query_attention(q, k, v, causal=False):
    """Attention with h query heads sharing g key/value heads; returns (output, weights).

    q: (..., h, n_q, d)  k: (..., g, n_k, d)  v: (..., g, n_k, d_v), h a multiple of g. Query heads
    j*h/g .. (j+1)*h/g - 1 all read key/value head j. g = h is multi-head attention, g = 1 multi-query
    attention. output: (..., h, n_q, d_v)  weights: (..., h, n_q, n_k)."""
    if q.dim() < 3 or k.dim() < 3 or v.dim() < 3:
        raise ValueError(f"q, k and v must be (..., heads, n, d), got shapes {tuple(q.shape)}, {tuple(k.shape)}, "
                         f"{tuple(v.shape)}")
    h, g = q.shape[-3], k.shape[-3]
    if v.shape[-3] != g or h % g:
        raise ValueError(f"k and v must have the same number g of heads, and g must divide q's h heads: got q with "
                         f"{h} heads, k with {g}, v with {v.shape[-3]}")
    group = h // g                                                               # query heads per key/value head
    k, v = k.repeat_interleave(group, dim=-3), v.repeat_interleave(group, dim=-3)  # (..., h, n_k, d)
    return scaled_dot_product_attention(q, k, v, causal=causal)
