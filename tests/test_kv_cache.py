"""Decoding with a KV cache (attn_course.kv_cache): the same tokens and logits as recomputation, the FLOPs
counted from the shapes equal to PyTorch's own count, the cache's bytes, and grouped-query attention."""
import pytest

torch = pytest.importorskip("torch")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from attn_course import kv_cache, sequences, training, transformer  # noqa: E402
from attn_course.nn import scaled_dot_product_attention  # noqa: E402


@pytest.fixture(scope="module")
def model():
    return training.load("tales")


@pytest.fixture(scope="module")
def text():
    return torch.from_numpy(sequences.tale_split(seed=0)[1][:32])[None]      # (1, 32) held-out tokens


def test_cached_logits_equal_recomputation_token_by_token(model, text):
    cache = kv_cache.KVCache(len(model.blocks))
    pieces = [kv_cache.forward_cached(model, text[:, :7], cache)]            # prefill 7, then one at a time
    pieces += [kv_cache.forward_cached(model, text[:, i:i + 1], cache) for i in range(7, 32)]
    with torch.no_grad():
        full = model(text)[0]
    assert len(cache) == 32
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, rtol=0, atol=1e-10)


def test_generate_cached_writes_what_generate_writes(model, text):
    for prompt in (text[:, :1], text[:, :9]):
        n_new = 33 - prompt.shape[1]                                         # up to the whole context
        assert torch.equal(kv_cache.generate_cached(model, prompt, n_new), model.generate(prompt, n_new))
    batch = torch.cat([text[:, :5], text[:, 5:10]])                          # (2, 5): two prompts at once
    assert torch.equal(kv_cache.generate_cached(model, batch, 6), model.generate(batch, 6))


def test_flops_counted_from_the_shapes_are_pytorchs_count(model, text):
    for n_new, n_cached in [(10, 0), (1, 10), (4, 20), (32, 0)]:
        cache = kv_cache.KVCache(len(model.blocks))
        if n_cached:
            kv_cache.forward_cached(model, text[:, :n_cached], cache)
        with FlopCounterMode(display=False) as counter:
            kv_cache.forward_cached(model, text[:, n_cached:n_cached + n_new], cache)
        assert counter.get_total_flops() == kv_cache.forward_flops(model, n_new, n_cached + n_new)
    with FlopCounterMode(display=False) as counter:
        model(text[:, :20])
    assert counter.get_total_flops() == kv_cache.forward_flops(model, 20, 20)


def test_generation_flops(model):
    plain, cached = (kv_cache.generation_flops(model, 4, 5, c) for c in (False, True))
    assert plain[0] == cached[0] == kv_cache.forward_flops(model, 4, 4)      # the prefill is the same
    assert cached[1:] == [kv_cache.forward_flops(model, 1, L) for L in range(5, 9)]
    assert plain[1:] == [kv_cache.forward_flops(model, L, L) for L in range(5, 9)]


def test_cache_bytes_is_what_the_cache_holds(model, text):
    cache = kv_cache.KVCache(len(model.blocks))
    kv_cache.forward_cached(model, text[:, :20], cache)
    d_head = model.embed.token.embedding_dim // model.blocks[0].attention.n_heads
    assert cache.nbytes() == kv_cache.cache_bytes(len(model.blocks), model.blocks[0].attention.n_heads, d_head, 20,
                                                  bytes_per_value=8)
    assert kv_cache.cache_bytes(32, 8, 128, 4096) * 4 == kv_cache.cache_bytes(32, 32, 128, 4096)


def test_grouped_query_attention():
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(2, 6, 5, 4, generator=gen, dtype=torch.float64)         # (batch, 6 heads, n, d)
    k, v = (torch.randn(2, 6, 5, 4, generator=gen, dtype=torch.float64) for _ in range(2))
    out, w = kv_cache.grouped_query_attention(q, k, v, causal=True)          # g = h: multi-head
    ref, ref_w = scaled_dot_product_attention(q, k, v, causal=True)
    torch.testing.assert_close(out, ref)
    k2, v2 = k[:, :2], v[:, :2]                                              # g = 2: heads 0-2 read 0, 3-5 read 1
    out, w = kv_cache.grouped_query_attention(q, k2, v2)
    for head in range(6):
        expected, _ = scaled_dot_product_attention(q[:, head], k2[:, head // 3], v2[:, head // 3])
        torch.testing.assert_close(out[:, head], expected)
    out, _ = kv_cache.grouped_query_attention(q, k[:, :1], v[:, :1])         # g = 1: multi-query
    torch.testing.assert_close(out[:, 4], scaled_dot_product_attention(q[:, 4], k[:, 0], v[:, 0])[0])


def test_errors_say_what_was_expected(model, text):
    with pytest.raises(ValueError, match="more than max_len = 32"):
        kv_cache.generate_cached(model, text[:, :10], 24)
    cache = kv_cache.KVCache(2)
    kv_cache.forward_cached(model, text[:, :30], cache)
    with pytest.raises(ValueError, match="30 cached \\+ 3 new tokens"):
        kv_cache.forward_cached(model, text[:, :3], cache)
    cheat = transformer.GPT(len(sequences.TALE_VOCAB), mask=lambda n: torch.ones(n, n, dtype=torch.bool))
    with pytest.raises(ValueError, match="not the causal mask"):
        kv_cache.generate_cached(cheat, text[:, :3], 2)
    with pytest.raises(ValueError, match="n_new must be a positive int"):
        kv_cache.generate_cached(model, text[:, :3], 0)
    with pytest.raises(ValueError, match="n_layers must be a positive int"):
        kv_cache.KVCache(0)
    with pytest.raises(ValueError, match="n_kv_heads must be a positive int"):
        kv_cache.cache_bytes(2, 0, 16, 10)
    with pytest.raises(ValueError, match="g must divide q's h heads"):
        kv_cache.grouped_query_attention(torch.ones(1, 6, 2, 4), torch.ones(1, 4, 2, 4), torch.ones(1, 4, 2, 4))
