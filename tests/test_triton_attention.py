"""The Triton kernel of attn_course.triton_attention against the NumPy attention of attn_course.

Without a GPU the kernel runs in Triton's interpreter on the CPU (TRITON_INTERPRET=1, which Triton reads
when it is imported: it is set below, before anything imports triton, and left set because Triton reads
it again while kernels run). With a CUDA GPU the same tests run the compiled kernel on the GPU, and the
tests marked `needs_gpu` add bfloat16, the benchmark's head sizes and torch's own SDPA.
Where Triton or PyTorch cannot be installed every test here is skipped, saying why.
"""
import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Triton kernel works on torch tensors; torch is not installed")
CUDA = torch.cuda.is_available()
if not CUDA:
    if "triton" in sys.modules and os.environ.get("TRITON_INTERPRET") != "1":
        pytest.skip("triton was imported before this module could switch its interpreter on", allow_module_level=True)
    os.environ["TRITON_INTERPRET"] = "1"
pytest.importorskip("triton", reason="Triton is not installed (it has wheels for Linux only): pip install triton")

from attn_course import scaled_dot_product_attention  # noqa: E402
from attn_course import triton_attention as ta  # noqa: E402

DEVICE = "cuda" if CUDA else "cpu"
needs_gpu = pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
MODULE = Path(ta.__file__)


def qkv(b, h, n_q, n_k, d, dtype=torch.float32, seed=0, device=DEVICE):
    g = torch.Generator().manual_seed(seed)
    make = lambda n: torch.randn(b, h, n, d, generator=g).to(device=device, dtype=dtype)
    return make(n_q), make(n_k), make(n_k)


def reference(q, k, v, causal, scale=None):
    """attn_course's NumPy attention in float64 on the same (rounded) inputs."""
    q, k, v = (x.detach().cpu().double().numpy() for x in (q, k, v))
    return scaled_dot_product_attention(q, k, v, causal=causal, scale=scale)[0]


def max_error(out, expected):
    return float(np.abs(out.detach().cpu().double().numpy() - expected).max())


def test_the_interpreter_runs_the_kernel_without_a_gpu():
    assert ta.INTERPRETED is (not CUDA)


# Lengths that no block size divides, queries and keys of different lengths both ways (causal is then
# aligned to the bottom right, as in attn_course.causal_mask: with n_q > n_k the first queries see no
# key and must get a zero output), tiles of unequal height and width.
SHAPES = [  # (batch, heads, n_q, n_k, d, block)
    (1, 2, 50, 50, 16, (16, 16)),
    (2, 1, 37, 61, 32, (32, 16)),
    (1, 1, 61, 37, 16, (16, 32)),
    (1, 1, 16, 16, 16, (16, 16)),
    (1, 1, 5, 3, 16, (16, 16)),
    (1, 2, 40, 40, 64, None),
]


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s[:5])) + f"-block{s[5]}")
def test_float32_matches_numpy(shape, causal):
    *dims, block = shape
    q, k, v = qkv(*dims)
    out = ta.flash_attention(q, k, v, causal=causal, block_size=block)
    assert out.shape == q.shape and out.dtype == q.dtype and out.device == q.device
    assert max_error(out, reference(q, k, v, causal)) < 1e-5


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_float16_matches_numpy_to_half_precision(causal):
    q, k, v = qkv(2, 2, 45, 45, 32, dtype=torch.float16)
    out = ta.flash_attention(q, k, v, causal=causal, block_size=(16, 16))
    assert out.dtype == torch.float16
    assert max_error(out, reference(q, k, v, causal)) < 4e-3  # half precision: 2^-11 relative, a few roundings


def test_queries_that_see_no_key_get_zero():
    q, k, v = qkv(1, 1, 40, 10, 16)
    out = ta.flash_attention(q, k, v, causal=True, block_size=(16, 16))  # query i sees keys j <= i - 30
    assert torch.all(out[..., :30, :] == 0) and torch.all(out[..., 30:, :].abs().sum(-1) > 0)


def test_large_scores_do_not_overflow():
    q, k, v = qkv(1, 1, 33, 33, 16)
    q = q * 300  # scores of several thousand: exp would overflow without the running maximum
    out = ta.flash_attention(q, k, v, causal=True, block_size=(16, 16))
    assert torch.isfinite(out).all()
    assert max_error(out, reference(q, k, v, True)) < 1e-4


def test_scale_and_strided_inputs():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(3, 2, 24, 3, 16, generator=g).to(DEVICE)  # (batch, n, 3, heads, d): a fused qkv layout
    q, k, v = (x[:, :, i].transpose(1, 2) for i in range(3))   # (batch, heads, n, d) views, not contiguous
    assert not q.is_contiguous()
    out = ta.flash_attention(q, k, v, scale=0.3, block_size=(16, 16))
    assert max_error(out, reference(q, k, v, False, scale=0.3)) < 1e-5


def test_no_keys_or_no_queries():
    q, k, v = qkv(1, 2, 5, 0, 16)
    assert torch.equal(ta.flash_attention(q, k, v), torch.zeros_like(q))
    q, k, v = qkv(1, 2, 0, 5, 16)
    assert ta.flash_attention(q, k, v).shape == (1, 2, 0, 16)


def test_flops_and_grid():
    assert ta.attention_flops(4, 16, 1024, 128) == 4 * 4 * 16 * 1024**2 * 128
    assert ta.attention_flops(4, 16, 1024, 128, causal=True) == 2 * 4 * 16 * 1024**2 * 128
    assert ta.launch_grid(4, 16, 1000, 128) == (8, 64)
    assert ta.launch_grid(1, 1, 1024, 128) == (8, 1)


@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("n_q, n_k", [(1, 1), (37, 37), (64, 130), (100, 7), (128, 128)])
@pytest.mark.parametrize("block_m, block_n", [(16, 16), (32, 16), (16, 64)])
def test_tile_plan_skips_only_empty_tiles_and_masks_every_partial_one(n_q, n_k, block_m, block_n, causal):
    plan = ta.tile_plan(n_q, n_k, block_m, block_n, causal)
    assert plan.shape == (-(-n_q // block_m), -(-n_k // block_n))
    for block, tile in np.ndindex(plan.shape):
        rows = np.arange(block * block_m, min(n_q, (block + 1) * block_m))[:, None]
        cols = np.arange(tile * block_n, min(n_k, (tile + 1) * block_n))[None, :]
        visible = cols <= rows + (n_k - n_q) if causal else np.ones((rows.size, cols.size), bool)
        assert (plan[block, tile] == 0) == (not visible.any())                        # skipped: nothing to see
        assert plan[block, tile] != 1 or (cols.size == block_n and visible.all())     # unmasked: all seen


def test_kernel_source_is_the_python_function():
    assert ta.kernel_source("_attend_tile").startswith("def _attend_tile(")
    assert "tl.program_id(0)" in ta.kernel_source("_flash_forward_kernel")
    with pytest.raises(ValueError, match="name must be"):
        ta.kernel_source("flash_attention")


# ---------------------------------------------------------------------------------------------------
# Bad input: each error says what was expected and what was given.

def error_of(*args, **kwargs):
    with pytest.raises((TypeError, ValueError, RuntimeError)) as info:
        ta.flash_attention(*args, **kwargs)
    return info.type, str(info.value)


def test_errors_name_the_problem():
    q, k, v = qkv(1, 2, 8, 8, 16)
    kind, msg = error_of(q.cpu().numpy(), k, v)
    assert kind is TypeError and "torch.Tensor" in msg and "tiled_attention" in msg
    kind, msg = error_of(q[0], k[0], v[0])
    assert kind is ValueError and "(batch, heads, n, d)" in msg and "(2, 8, 16)" in msg
    kind, msg = error_of(q, k.double(), v)
    assert kind is TypeError and "share one dtype" in msg
    kind, msg = error_of(q.double(), k.double(), v.double())
    assert kind is TypeError and "torch.float64 is not supported" in msg
    kind, msg = error_of(q, k[:, :1], v)
    assert kind is ValueError and "(batch, heads)" in msg and "no broadcasting" in msg
    kind, msg = error_of(q, k, v[:, :, :5])
    assert kind is ValueError and "one value per key" in msg
    kind, msg = error_of(q, k, v[..., :8])
    assert kind is ValueError and "d_v = d_k" in msg
    q24, k24, v24 = qkv(1, 1, 8, 8, 24)
    kind, msg = error_of(q24, k24, v24)
    assert kind is ValueError and "d = 24 is not supported" in msg and "(16, 32, 64, 128)" in msg
    kind, msg = error_of(q, k, v, scale=-1.0)
    assert kind is ValueError and "scale must be a positive" in msg
    kind, msg = error_of(q, k, v, scale="x")
    assert kind is TypeError and "scale must be a positive number" in msg
    kind, msg = error_of(q, k, v, block_size=(16, 24))
    assert kind is ValueError and "power of two" in msg
    kind, msg = error_of(q, k, v, block_size="16")
    assert kind is TypeError and "block_size must be an int or a pair" in msg
    kind, msg = error_of(q.requires_grad_(), k, v)
    assert kind is RuntimeError and "forward pass only" in msg
    with torch.no_grad():  # the same call is fine without autograd
        ta.flash_attention(q, k, v, block_size=(16, 16))


@pytest.mark.skipif(CUDA, reason="on a GPU bfloat16 is supported")
def test_bfloat16_is_refused_by_the_interpreter():
    q, k, v = qkv(1, 1, 8, 8, 16, dtype=torch.bfloat16)
    kind, msg = error_of(q, k, v)
    assert kind is TypeError and "bfloat16 runs on a GPU" in msg


def test_without_triton_import_works_and_calls_say_why(monkeypatch):
    monkeypatch.setitem(sys.modules, "triton", None)  # `import triton` now raises ImportError
    monkeypatch.setitem(sys.modules, "triton.language", None)
    spec = importlib.util.spec_from_file_location("attn_course.triton_attention_without_triton", MODULE)  # in the package: its relative imports work
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # importing does not fail
    assert module.triton is None and module.attention_flops(1, 1, 2, 16) == 256
    q, k, v = qkv(1, 1, 4, 4, 16)
    with pytest.raises(ImportError, match="needs Triton, which could not be imported"):
        module.flash_attention(q, k, v)


# ---------------------------------------------------------------------------------------------------
# The GPU build, checked without a GPU: Triton compiles the kernel for an H100 (sm_90) with the ptxas it
# ships. In a fresh process, since this one runs Triton's interpreter.

COMPILE = textwrap.dedent("""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    from attn_course import triton_attention as ta
    assert not ta.INTERPRETED
    kernel = ta._flash_forward_kernel
    consts = dict(HEAD_DIM=128, BLOCK_M=128, BLOCK_N=64, CAUSAL=True, DOT_PRECISION="tf32")
    signature = dict(zip(kernel.arg_names, ["*fp16"] * 4 + ["i32"] * 15 + ["fp32"]), **{c: "constexpr" for c in consts})
    aligned = {(i,): [["tt.divisibility", 16]] for i in range(19)}  # what the JIT sees for contiguous fp16 tensors
    compiled = triton.compile(ASTSource(kernel, signature, consts, aligned), target=GPUTarget("cuda", 90, 32),
                              options=dict(num_warps=8, num_stages=3))
    print(compiled.metadata.shared, len(compiled.asm["cubin"]))
""")


def test_kernel_compiles_for_an_h100_without_a_gpu():
    env = {key: value for key, value in os.environ.items() if key != "TRITON_INTERPRET"}
    result = subprocess.run([sys.executable, "-c", COMPILE], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    shared, cubin = map(int, result.stdout.split())
    assert 0 < shared <= 227 * 1024 and cubin > 0  # fits an H100's 227 KiB of shared memory per block


# ---------------------------------------------------------------------------------------------------
# On a GPU only.

@needs_gpu
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("d", [64, 128])
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_gpu_matches_torch_sdpa(dtype, d, causal):
    q, k, v = qkv(2, 4, 1000, 1000, d, dtype=dtype)  # 1000: no tile size divides it
    out = ta.flash_attention(q, k, v, causal=causal)  # autotuned tile sizes
    expected = torch.nn.functional.scaled_dot_product_attention(q.float(), k.float(), v.float(), is_causal=causal)
    tolerance = 2e-2 if dtype == torch.bfloat16 else 3e-3
    assert (out.float() - expected).abs().max().item() < tolerance


@needs_gpu
def test_gpu_refuses_tensors_on_two_devices():
    q, k, v = qkv(1, 1, 8, 8, 16)
    kind, msg = error_of(q, k.cpu(), v)
    assert kind is ValueError and "one device" in msg


# ---------------------------------------------------------------------------------------------------
# The benchmark script and the chapter's figure, exercised on tiny shapes (a GPU runs them for real).

def load_script(name):
    """A script of benchmarks/ as a module."""
    spec = importlib.util.spec_from_file_location(name, MODULE.parents[1] / "benchmarks" / f"{name}.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def load_benchmark():
    return load_script("bench_triton")


@pytest.mark.skipif(CUDA, reason="checks the message printed where there is no GPU")
def test_benchmark_without_a_gpu_says_so_and_exits_0(capsys):
    assert load_benchmark().main([]) == 0
    assert "needs a CUDA GPU" in capsys.readouterr().out


def test_benchmark_rows_json_and_figure(tmp_path, capsys):
    import json

    import matplotlib
    matplotlib.use("Agg")
    bench = load_benchmark()
    rows = bench.run([20], [16], [False, True], ta.flash_attention, device=DEVICE, batch=1, heads={16: 2}, repeats=1)
    table = capsys.readouterr().out
    assert "TFLOP/s" in table and "triton" in table
    assert {(r["method"], r["causal"]) for r in rows} == {(m, c) for m in bench.METHODS for c in (False, True)}
    mine = [r for r in rows if r["method"] == "triton"]
    assert all(r["status"] == "ok" and r["max_abs_diff"] < 1e-3 for r in mine)
    assert all(r["ratio_to_sdpa"] is None or r["ratio_to_sdpa"] > 0 for r in rows)
    rows[-1].update(status="OOM", ms=None, tflops=None, peak_mib=None)  # as a GPU reports running out of memory
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(bench.record(rows, "test device", "3.x", ["--n", "20"])))
    record = json.loads(path.read_text())
    assert record["command"] == "python benchmarks/bench_triton.py --n 20" and record["device"] == "test device"
    from attn_course import viz
    axes = viz.plot_benchmark(record, d=16)
    assert axes.shape == (2, 2) and "test device" in axes[0, 0].figure._suptitle.get_text()
    with pytest.raises(ValueError, match="no results for d = 128"):
        viz.plot_benchmark(record, d=128)
    import matplotlib.pyplot as plt
    plt.close("all")


@pytest.mark.skipif(CUDA, reason="checks the message printed where there is no GPU")
def test_sweep_without_a_gpu_says_so_and_exits_0(capsys):
    assert load_script("sweep_triton").main([]) == 0
    assert "needs a CUDA GPU" in capsys.readouterr().out


def test_stored_gpu_measurements_hold_what_chapter_8b_reads():
    """The files measured on a GPU (benchmarks/gpu_session.sh) have every row the chapter's cells read."""
    import json
    results = MODULE.parents[1] / "benchmarks" / "results"
    for path in results.glob("bench_triton*.json"):
        record = json.loads(path.read_text())
        assert record["device"] and record["command"].startswith("python benchmarks/bench_triton.py")
        rows = record["results"]
        assert {(r["method"], r["causal"]) for r in rows if r["d"] == 128} >= {(m, c) for m in ("triton", "sdpa", "plain")
                                                                              for c in (False, True)}
        assert all(r["status"] == "ok" or r["status"] == "OOM" for r in rows), path.name
        assert all(r["max_abs_diff"] is None or r["max_abs_diff"] < 2e-3 for r in rows if r["method"] == "triton")
    for path in results.glob("sweep_triton*.json"):
        rows = json.loads(path.read_text())["rows"]
        assert any(r["status"] == "ok" for r in rows)
        assert all(r["max_abs_diff"] < 2e-3 and r["ratio_to_sdpa"] > 0 for r in rows if r["status"] == "ok")
