"""Checkers for the exercises of chapter 6e, decoding with a KV cache.

    check_doubling(answer)              predict: the factors by which cache memory and a step's attention
                                        FLOPs grow when the context doubles
    check_attention_flops_total(fn)     derive: fn(n_tokens, d_model, cached) -> the attention FLOPs of one
                                        layer over a whole generation
    check_decode_step(fn)               implement: fn(cache_k, cache_v, q, k, v) -> (output, cache_k, cache_v),
                                        one step of one head

The references are DOUBLING, attention_flops_total and decode_step, here (the last built on the package's
NumPy attention).
"""
import numpy as np

from ..attention import scaled_dot_product_attention
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
]
