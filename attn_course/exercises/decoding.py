"""Checkers for the exercises of chapter 6e, decoding with a KV cache.

    check_doubling(answer)              predict: the factors by which cache memory and a step's attention
                                        FLOPs grow when the context doubles
    check_attention_flops_total(fn)     derive: fn(n_tokens, d_model, cached) -> the attention FLOPs of one
                                        layer over a whole generation
    check_decode_step(fn)               implement: fn(cache_k, cache_v, q, k, v) -> (output, cache_k, cache_v),
                                        one step of one head
    check_decode_rope_step(fn)          debug: the same step with RoPE: the new token turned at position t
    check_gqa_decode_step(fn)           hard: one step of grouped-query attention, h query heads sharing
                                        g cached key/value heads

The references are DOUBLING, attention_flops_total, decode_step, decode_rope_step and gqa_decode_step, here
(built on the package's NumPy attention and rotary_embedding).
"""
import numpy as np

from ..attention import scaled_dot_product_attention
from ..positional import rotary_embedding
from .feedback import Feedback, call, checker, not_written
from .registry import Exercise, Mistake

# ---------------------------------------------------------------------------------------------------
# 6e.1 (predict): what doubles, what quadruples

DOUBLING = {"cache_bytes": 2, "cached_step_flops": 2, "uncached_step_flops": 4}
"""Context n -> 2n: the cache holds 2n keys and values; a cached step scores 1 query against 2n keys; an
uncached step scores 2n queries against 2n keys."""


@checker
def check_doubling(answer):
    """Check `answer`, a dict of the factors by which three things grow when the context doubles from n to 2n
    tokens (n large): "cache_bytes" (the cache's memory), "cached_step_flops" and "uncached_step_flops" (the
    FLOPs of the attention scores and weighted sum in one decoding step with and without a cache)."""
    if answer is Ellipsis:
        return not_written("this prediction", "the `...` in its cell")
    if not isinstance(answer, dict) or set(answer) != set(DOUBLING):
        return Feedback(False, f"expected a dict with the keys {sorted(DOUBLING)}, got {answer!r}")
    hints = ("count, for a context of n tokens, how many keys the cache holds, and how many (query, key) scores "
             "one step computes with and without the cache",
             "with a cache one step has 1 query and n keys; without, it recomputes n queries against n keys",
             "the cache and a cached step grow as n (factor 2), an uncached step as n^2 (factor 4)")
    for key in ("cache_bytes", "cached_step_flops", "uncached_step_flops"):
        try:
            value = float(answer[key])
        except (TypeError, ValueError):
            return Feedback(False, f"{key!r} must be a number (a factor such as 2), got {answer[key]!r}")
        if value != DOUBLING[key]:
            what = {"cache_bytes": "the cache's memory: what does it hold per token?",
                    "cached_step_flops": "a step WITH the cache: how many queries, how many keys?",
                    "uncached_step_flops": "a step WITHOUT the cache: how many queries does it recompute?"}[key]
            return Feedback(False, f"{key} = {answer[key]!r} is not right; think again about {what}", hints=hints)
    return Feedback(True, "correct: memory and a cached step grow linearly with the context, an uncached step "
                          "quadratically")


# ---------------------------------------------------------------------------------------------------
# 6e.2 (derive): the attention FLOPs of a whole generation

def attention_flops_total(n_tokens, d_model, cached):
    """The reference: one layer's scores and weighted sum (4 L' L d FLOPs for L' queries over L keys) summed
    over the steps that read L = 1, ..., n_tokens tokens; L' = L without a cache, 1 with one."""
    lengths = np.arange(1, n_tokens + 1)
    queries = np.ones_like(lengths) if cached else lengths
    return int((4 * queries * lengths * d_model).sum())


@checker
def check_attention_flops_total(fn):
    """Check `fn(n_tokens, d_model, cached) -> int`: the FLOPs (2 per multiply-add) of one layer's attention scores
    q k^T and weighted sum w v, all heads together, summed over the steps that read 1, 2, ..., n_tokens tokens,
    without (cached=False: every step recomputes all its queries) or with a cache (one query per step)."""
    hints = ("a step that reads L tokens with L' queries computes L' L scores, each a d_model-long dot product "
             "(2 d_model FLOPs), and the same count again for the weighted sum: 4 L' L d_model",
             "L' = L without a cache and 1 with one; sum over L = 1, ..., n_tokens",
             "without: 4 d_model sum L^2 = 4 d_model n(n+1)(2n+1)/6; with: 4 d_model sum L = 2 d_model n(n+1)")
    for cached in (True, False):
        for n, d in ((1, 8), (5, 8), (12, 16)):
            result, error = call(fn, n, d, cached)
            if error is not None:
                return error
            expected = attention_flops_total(n, d, cached)
            try:
                value = float(result)
            except (TypeError, ValueError):
                return Feedback(False, f"expected a number of FLOPs, got {type(result).__name__}")
            if value == expected:
                continue
            where = f"with cached={cached}, n_tokens={n}, d_model={d}: got {result}, expected {expected}"
            if value * 4 == expected:
                return Feedback(False, f"{where}, a quarter: how many FLOPs is one multiply-add, and how many matrix "
                                       "products does attention compute?", hints=hints)
            if value * 2 == expected:
                return Feedback(False, f"{where}, half: each multiply-add counts 2 FLOPs, and there are two "
                                       "products (scores and weighted sum)", hints=hints)
            if value == attention_flops_total(n, d, not cached):
                return Feedback(False, f"{where}: that is the count for cached={not cached}", hints=hints)
            if value in (attention_flops_total(n - 1, d, cached), attention_flops_total(n + 1, d, cached)):
                return Feedback(False, f"{where}: off by one step; the steps read 1, 2, ..., n_tokens tokens",
                                hints=hints)
            return Feedback(False, where, hints=hints)
    return Feedback(True, "correct: 4 d Σ L² without a cache (cubic in n), 4 d Σ L = 2 d n(n+1) with one (quadratic)")


# ---------------------------------------------------------------------------------------------------
# 6e.3 (implement): one decoding step of one head

def decode_step(cache_k, cache_v, q, k, v):
    """The reference: append the new token's key and value, then its query attends to all of them."""
    cache_k = np.concatenate([cache_k, k], axis=0)                     # (t + 1, d_k)
    cache_v = np.concatenate([cache_v, v], axis=0)                     # (t + 1, d_v)
    output, _ = scaled_dot_product_attention(q, cache_k, cache_v)      # (1, d_v): the newest may see everything
    return output, cache_k, cache_v


@checker
def check_decode_step(fn):
    """Check `fn(cache_k (t, d_k), cache_v (t, d_v), q (1, d_k), k (1, d_k), v (1, d_v)) -> (output (1, d_v),
    cache_k (t + 1, d_k), cache_v (t + 1, d_v))`: one step of one attention head when decoding with a cache."""
    rng = np.random.default_rng(0)
    t, d_k, d_v = 5, 4, 3
    cache_k, cache_v = rng.standard_normal((t, d_k)), rng.standard_normal((t, d_v))
    q, k, v = rng.standard_normal((1, d_k)), rng.standard_normal((1, d_k)), rng.standard_normal((1, d_v))
    hints = ("the new token is the last position: its query may read every cached key and its own",
             "first put k and v at the END of the cache, then attend with q over the whole cache, no mask needed",
             "cache_k = np.concatenate([cache_k, k]); cache_v = np.concatenate([cache_v, v]); "
             "output = softmax(q cache_k^T / sqrt(d_k)) cache_v; return output, cache_k, cache_v")
    result, error = call(fn, cache_k.copy(), cache_v.copy(), q.copy(), k.copy(), v.copy())
    if error is not None:
        return error
    if not (isinstance(result, tuple) and len(result) == 3):
        return Feedback(False, f"return three things (output, cache_k, cache_v), got {type(result).__name__}")
    try:
        output, new_k, new_v = (np.asarray(r, dtype=np.float64) for r in result)
    except (TypeError, ValueError):
        return Feedback(False, "output, cache_k and cache_v must be arrays of numbers")
    expected, right_k, right_v = decode_step(cache_k, cache_v, q, k, v)
    if new_k.shape != right_k.shape or new_v.shape != right_v.shape:
        return Feedback(False, f"the caches you return have shapes {new_k.shape} and {new_v.shape}, expected "
                               f"{right_k.shape} and {right_v.shape}: one row more than before", hints=hints)
    if np.allclose(new_k, np.concatenate([k, cache_k])) or np.allclose(new_v, np.concatenate([v, cache_v])):
        return Feedback(False, "the new key or value went to the FRONT of the cache: row i of the cache is "
                               "position i", hints=hints)
    if not (np.allclose(new_k, right_k) and np.allclose(new_v, right_v)):
        return Feedback(False, "the caches you return are not the old ones with the new key and value added as the "
                               "last row", hints=hints)
    if output.shape != expected.shape:
        return Feedback(False, f"output has shape {output.shape}, expected {expected.shape}: one row, d_v wide",
                        hints=hints)
    if np.allclose(output, expected):
        return Feedback(True, "correct: the new key and value appended, and one query over all t + 1 keys")
    if np.allclose(output, scaled_dot_product_attention(q, cache_k, cache_v)[0]):
        return Feedback(False, "the output ignores the new token's own key and value: it attended over the old "
                               "cache only. Which keys may the newest token read?", hints=hints)
    if np.allclose(output, v):
        return Feedback(False, "the output is the new value alone: the query attended only to its own key",
                        hints=hints)
    if np.allclose(output, right_v[:1]):
        return Feedback(False, "the output is the first value alone: a causal mask aligned to the top left lets one "
                               "query see only key 0. A single new query is the LAST position", hints=hints)
    return Feedback(False, "the output differs from softmax(q cache_k^T / sqrt(d_k)) cache_v over the updated cache",
                    hints=hints)


# ---------------------------------------------------------------------------------------------------
# 6e.4 (debug): a decoding step with rotary positions

def decode_rope_step(cache_k, cache_v, q, k, v):
    """The reference: the cache holds keys already turned at positions 0..t-1; the new token is at position t."""
    t = len(cache_k)
    return decode_step(cache_k, cache_v, rotary_embedding(q, [t]), rotary_embedding(k, [t]), v)


@checker
def check_decode_rope_step(fn):
    """Check `fn(cache_k (t, d_k), cache_v (t, d_v), q (1, d_k), k (1, d_k), v (1, d_v)) -> (output, cache_k,
    cache_v)`: cache_k holds the keys of positions 0..t-1 turned by RoPE (attn_course.rotary_embedding), q and k
    are the new token's, not turned yet; the output must equal the last row of causal attention with RoPE."""
    rng = np.random.default_rng(0)
    t, d_k, d_v = 6, 8, 3
    queries, keys = rng.standard_normal((2, t + 1, d_k))
    values = rng.standard_normal((t + 1, d_v))
    cache_k, cache_v = rotary_embedding(keys[:t]), values[:t]
    q, k, v = queries[t:], keys[t:], values[t:]
    expected, right_k, right_v = decode_rope_step(cache_k, cache_v, q, k, v)
    hints = ("the cached keys were turned at their own positions when they were read; only the new token is "
             "still to turn",
             "the new token is the (t + 1)-th, so its position is t = len(cache_k): turn its query AND its key by "
             "it, leave the cache and v as they are",
             "t = len(cache_k); q, k = ac.rotary_embedding(q, [t]), ac.rotary_embedding(k, [t]); then the step "
             "of exercise 6e.3: decode_step(cache_k, cache_v, q, k, v)")
    result, error = call(fn, cache_k.copy(), cache_v.copy(), q.copy(), k.copy(), v.copy())
    if error is not None:
        return error
    if not (isinstance(result, tuple) and len(result) == 3):
        return Feedback(False, f"return three things (output, cache_k, cache_v), got {type(result).__name__}")
    try:
        output, new_k, new_v = (np.asarray(r, dtype=np.float64) for r in result)
    except (TypeError, ValueError):
        return Feedback(False, "output, cache_k and cache_v must be arrays of numbers")
    if new_k.shape != right_k.shape or new_v.shape != right_v.shape or output.shape != expected.shape:
        return Feedback(False, f"shapes {output.shape}, {new_k.shape}, {new_v.shape}, expected {expected.shape}, "
                               f"{right_k.shape}, {right_v.shape}: one output row, one cache row more", hints=hints)
    if np.allclose(output, expected) and np.allclose(new_k, right_k) and np.allclose(new_v, right_v):
        return Feedback(True, "correct: the new token turned at position t, the cached keys left as they were, "
                              "the same output as recomputing the whole sequence")
    if np.allclose(new_k[:t], rotary_embedding(cache_k)):
        return Feedback(False, "the cached keys were turned again: they hold their positions already",
                        hints=hints)
    for position, where in ((0, "at position 0, the first token's place"), (t + 1, "one position too far")):
        if np.allclose(new_k[t], rotary_embedding(k, [position])[0]):
            return Feedback(False, f"the new key is turned {where}: which position does the newest token hold?",
                            hints=hints)
    if np.allclose(new_k[t], k[0]):
        return Feedback(False, "the new key went into the cache unturned, unlike the keys before it", hints=hints)
    if np.allclose(output, decode_step(cache_k, cache_v, q, rotary_embedding(k, [t]), v)[0]):
        return Feedback(False, "the query is not turned: its score with key j must depend on j - t", hints=hints)
    return Feedback(False, "the output differs from the last row of causal attention with RoPE over positions "
                           "0..t", hints=hints)


# ---------------------------------------------------------------------------------------------------
# 6e.5 (hard): a decoding step of grouped-query attention

def gqa_decode_step(cache_k, cache_v, q, k, v):
    """The reference: append the g new keys and values, then query head j reads key/value head j // (h/g)."""
    cache_k = np.concatenate([cache_k, k], axis=-2)                    # (g, t + 1, d_k)
    cache_v = np.concatenate([cache_v, v], axis=-2)                    # (g, t + 1, d_v)
    group = q.shape[-3] // cache_k.shape[-3]                           # query heads per key/value head
    output, _ = scaled_dot_product_attention(q, np.repeat(cache_k, group, axis=-3),
                                             np.repeat(cache_v, group, axis=-3))   # (h, 1, d_v)
    return output, cache_k, cache_v


@checker
def check_gqa_decode_step(fn):
    """Check `fn(cache_k (g, t, d_k), cache_v (g, t, d_v), q (h, 1, d_k), k (g, 1, d_k), v (g, 1, d_v)) ->
    (output (h, 1, d_v), cache_k (g, t + 1, d_k), cache_v (g, t + 1, d_v))`: query heads j*h/g .. (j+1)*h/g - 1
    read key/value head j, as attn_course.kv_cache.grouped_query_attention."""
    rng = np.random.default_rng(0)
    h, g, t, d_k, d_v = 6, 2, 5, 4, 3
    cache_k, cache_v = rng.standard_normal((g, t, d_k)), rng.standard_normal((g, t, d_v))
    q = rng.standard_normal((h, 1, d_k))
    k, v = rng.standard_normal((g, 1, d_k)), rng.standard_normal((g, 1, d_v))
    expected, right_k, right_v = gqa_decode_step(cache_k, cache_v, q, k, v)
    hints = ("three steps: grow each of the g cached heads by the new key and value, give each query head its "
             "key/value head, attend",
             "the cache stays g heads wide (that is the saving); the tokens are axis -2; query heads 0..h/g-1 share "
             "key/value head 0, the next h/g share head 1, ...",
             "append with np.concatenate(..., axis=-2), then np.repeat(cache, h // g, axis=-3) (not np.tile) for "
             "the keys and the values, and ac.scaled_dot_product_attention(q, keys, values)")
    result, error = call(fn, cache_k.copy(), cache_v.copy(), q.copy(), k.copy(), v.copy())
    if error is not None:
        return error
    if not (isinstance(result, tuple) and len(result) == 3):
        return Feedback(False, f"return three things (output, cache_k, cache_v), got {type(result).__name__}")
    try:
        output, new_k, new_v = (np.asarray(r, dtype=np.float64) for r in result)
    except (TypeError, ValueError):
        return Feedback(False, "output, cache_k and cache_v must be arrays of numbers")
    if new_k.shape != right_k.shape or new_v.shape != right_v.shape:
        what = " (h heads: the cache was repeated before it was stored)" if h in new_k.shape[:1] else ""
        return Feedback(False, f"the caches you return have shapes {new_k.shape} and {new_v.shape}, expected "
                               f"{right_k.shape} and {right_v.shape}{what}: g heads, one token more", hints=hints)
    if not (np.allclose(new_k, right_k) and np.allclose(new_v, right_v)):
        return Feedback(False, "the caches you return are not the old ones with the new keys and values added "
                               "as the last token of each head", hints=hints)
    if output.shape != expected.shape:
        return Feedback(False, f"output has shape {output.shape}, expected {expected.shape}: one row per query head",
                        hints=hints)
    if np.allclose(output, expected):
        return Feedback(True, "correct: g heads cached, each read by h/g query heads: the output of multi-head "
                              "attention with the key/value heads repeated, from a cache h/g times smaller")
    tiled = scaled_dot_product_attention(q, np.tile(right_k, (h // g, 1, 1)), np.tile(right_v, (h // g, 1, 1)))[0]
    if np.allclose(output, tiled):
        return Feedback(False, "the query heads read the wrong key/value heads: query head 1 read head 1, but it "
                               "belongs to the group of head 0", hints=hints)
    old = scaled_dot_product_attention(q, np.repeat(cache_k, h // g, axis=-3), np.repeat(cache_v, h // g, axis=-3))[0]
    if np.allclose(output, old):
        return Feedback(False, "the output ignores the new token's own keys and values: it attended over the old "
                               "cache only", hints=hints)
    return Feedback(False, "the output differs from grouped-query attention over the updated cache: check query "
                           "head 0, which reads key/value head 0", hints=hints)


_ROPE_TRY = ("import attn_course as ac\n"
             "from attn_course.exercises.decoding import decode_step\n"
             "def decode_rope_step(cache_k, cache_v, q, k, v):\n"
             "    {turn}\n"
             "    return decode_step(cache_k, cache_v, q, k, v)")
_GQA_TRY = ("import numpy as np\nimport attn_course as ac\n"
            "def gqa_decode_step(cache_k, cache_v, q, k, v):\n"
            "    cache_k, cache_v = np.concatenate([cache_k, k], axis=-2), np.concatenate([cache_v, v], axis=-2)\n"
            "    group = q.shape[0] // cache_k.shape[0]\n"
            "    {attend}\n"
            "    return output, cache_k, cache_v")

EXERCISES = [
    Exercise(checker=check_doubling, reference="attn_course.exercises.decoding.DOUBLING",
             chapter="06e_kv_cache", solution="doubling", level="predict",
             mistakes=(Mistake('doubling = {"cache_bytes": 2, "cached_step_flops": 4, "uncached_step_flops": 4}',
                               "a step WITH the cache"),)),
    Exercise(checker=check_attention_flops_total, reference="attn_course.exercises.decoding.attention_flops_total",
             chapter="06e_kv_cache", solution="attention_flops_total", level="derive",
             mistakes=(Mistake("def attention_flops_total(n_tokens, d_model, cached):\n"
                               "    return sum(2 * (1 if cached else L) * L * d_model for L in range(1, n_tokens + 1))",
                               "half"),)),
    Exercise(checker=check_decode_step, reference="attn_course.exercises.decoding.decode_step",
             chapter="06e_kv_cache", solution="decode_step", level="implement",
             mistakes=(Mistake("import numpy as np\n"
                               "from attn_course import scaled_dot_product_attention\n"
                               "def decode_step(cache_k, cache_v, q, k, v):\n"
                               "    output, _ = scaled_dot_product_attention(q, cache_k, cache_v)\n"
                               "    return output, np.concatenate([cache_k, k]), np.concatenate([cache_v, v])",
                               "ignores the new token's own key"),)),
    Exercise(checker=check_decode_rope_step, reference="attn_course.exercises.decoding.decode_rope_step",
             chapter="06e_kv_cache", solution="decode_rope_step", level="debug", points=2,
             mistakes=(Mistake(_ROPE_TRY.format(turn="q, k = ac.rotary_embedding(q), ac.rotary_embedding(k)"),
                               "at position 0"),
                       Mistake(_ROPE_TRY.format(turn="q, k = ac.rotary_embedding(q, [len(cache_k) + 1]), "
                                                     "ac.rotary_embedding(k, [len(cache_k) + 1])"),
                               "one position too far"),
                       Mistake(_ROPE_TRY.format(turn="k = ac.rotary_embedding(k, [len(cache_k)])"),
                               "the query is not turned"),
                       Mistake(_ROPE_TRY.format(turn="q, k = ac.rotary_embedding(q, [len(cache_k)]), "
                                                     "ac.rotary_embedding(k, [len(cache_k)]); "
                                                     "cache_k = ac.rotary_embedding(cache_k)"),
                               "turned again"))),
    Exercise(checker=check_gqa_decode_step, reference="attn_course.exercises.decoding.gqa_decode_step",
             chapter="06e_kv_cache", solution="gqa_decode_step", level="hard", points=3,
             mistakes=(Mistake(_GQA_TRY.format(attend="output, _ = ac.scaled_dot_product_attention(q, "
                                                      "np.tile(cache_k, (group, 1, 1)), np.tile(cache_v, (group, 1, 1)))"),
                               "the wrong key/value heads"),
                       Mistake(_GQA_TRY.format(attend="output, _ = ac.scaled_dot_product_attention(q, "
                                                      "np.repeat(cache_k[:, :-1], group, axis=0), "
                                                      "np.repeat(cache_v[:, :-1], group, axis=0))"),
                               "ignores the new token's own keys"),
                       Mistake(_GQA_TRY.format(attend="cache_k, cache_v = np.repeat(cache_k, group, axis=0), "
                                                      "np.repeat(cache_v, group, axis=0); "
                                                      "output, _ = ac.scaled_dot_product_attention(q, cache_k, cache_v)"),
                               "the cache was repeated before it was stored"))),
]
