"""Every tile configuration of the Triton kernel, timed against PyTorch's flash SDPA, on a CUDA GPU.

    python benchmarks/sweep_triton.py --json benchmarks/results/sweep_triton_h100.json

bench_triton.py measures the kernel as `flash_attention` runs it, with the configuration autotuning
picks from a short list. This script times each configuration of a wider grid by itself (BLOCK_M
queries x BLOCK_N keys per tile, warps per program, pipeline stages), so that the choice can be checked
and the list revised; it also times SDPA with the backend torch picks by itself: float16, batch 4, 16 heads of d = 128, n = 4096 and 8192, causal and not. Each
row is the median of triton.testing.do_bench (CUDA events) and the throughput counted as bench_triton.py
counts it. A configuration that does not fit the GPU's shared memory or registers is reported as such.
Without CUDA it says so and exits with status 0.
"""
import argparse
import itertools
import json
import sys
from pathlib import Path

import torch

BATCH, HEADS, D = 4, 16, 128
NS = [4096, 8192]
GRID = dict(block_m=[64, 128], block_n=[32, 64, 128], warps=[4, 8], stages=[2, 3, 4])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    parser.add_argument("--n", type=int, nargs="+", default=NS)
    for name, values in GRID.items():
        parser.add_argument("--" + name.replace("_", "-"), type=int, nargs="+", default=values)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("sweep_triton.py times GPU kernels and needs a CUDA GPU; torch.cuda.is_available() is False. "
              "Nothing was measured.")
        return 0
    import triton
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from triton.testing import do_bench

    from attn_course import triton_attention as ta

    def launch(q, k, v, out, causal, bm, bn, warps, stages):
        n = q.shape[2]
        args = (q, k, v, out, *q.stride()[:3], *k.stride()[:3], *v.stride()[:3], *out.stride()[:3],
                HEADS, n, n, D ** -0.5 * 1.4426950408889634)
        grid = ta.launch_grid(BATCH, HEADS, n, bm)
        ta._flash_forward_kernel[grid](*args, HEAD_DIM=D, CAUSAL=causal, DOT_PRECISION="tf32", BLOCK_M=bm,
                                       BLOCK_N=bn, num_warps=warps, num_stages=stages)

    device = torch.cuda.get_device_name()
    print(f"{device}, torch {torch.__version__}, triton {triton.__version__}; float16, batch {BATCH}, "
          f"heads {HEADS}, d {D}")
    rows = []
    for n, causal in itertools.product(args.n, [False, True]):
        flops = 4 * BATCH * HEADS * n * n * D // (2 if causal else 1)
        g = torch.Generator(device="cuda").manual_seed(0)
        q, k, v = (torch.randn(BATCH, HEADS, n, D, device="cuda", dtype=torch.float16, generator=g) for _ in range(3))
        sdpa = lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
        expected = sdpa()
        # SDPA as bench_triton.py runs it (the flash backend, FlashAttention-2), and as torch chooses by
        # itself (on an H100 that can be cuDNN's attention, a different and faster kernel)
        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            flash_ms = do_bench(sdpa, return_mode="median")
        default_ms = do_bench(sdpa, return_mode="median")
        sdpa, default = (flops / (ms * 1e-3) / 1e12 for ms in (flash_ms, default_ms))
        print(f"n {n} causal {causal}: SDPA flash backend {flash_ms:.3f} ms, {sdpa:.1f} TFLOP/s; "
              f"SDPA default backend {default_ms:.3f} ms, {default:.1f} TFLOP/s")
        for bm, bn, warps, stages in itertools.product(args.block_m, args.block_n, args.warps, args.stages):
            out = torch.full_like(q, float("nan"))  # poisoned: every element must be written
            row = dict(n=n, causal=causal, block_m=bm, block_n=bn, warps=warps, stages=stages, sdpa_tflops=sdpa,
                       sdpa_default_tflops=default)
            try:
                launch(q, k, v, out, causal, bm, bn, warps, stages)
                torch.cuda.synchronize()
                error = (out.float() - expected.float()).abs().max().item()
                ms = do_bench(lambda: launch(q, k, v, out, causal, bm, bn, warps, stages), return_mode="median")
                row.update(status="ok", ms=ms, tflops=flops / (ms * 1e-3) / 1e12, max_abs_diff=error)
                row["ratio_to_sdpa"] = row["tflops"] / sdpa
                row["ratio_to_sdpa_default"] = row["tflops"] / default
                print(f"  {bm:>4} x {bn:<4} warps {warps} stages {stages}: {ms:8.3f} ms {row['tflops']:6.1f} TFLOP/s "
                      f"{row['ratio_to_sdpa']:.2f} x flash SDPA {row['ratio_to_sdpa_default']:.2f} x default SDPA "
                      f"max|diff| {error:.1e}", flush=True)
            except Exception as e:  # out of shared memory or registers for this tile size
                row.update(status=f"{type(e).__name__}: {str(e).strip().splitlines()[0][:80]}")
                print(f"  {bm:>4} x {bn:<4} warps {warps} stages {stages}: {row['status']}", flush=True)
            rows.append(row)
        q = k = v = expected = None  # free the GPU memory before the next shape
        torch.cuda.empty_cache()
    print("\nbest configuration per shape:")
    for n, causal in itertools.product(args.n, [False, True]):
        ok = [r for r in rows if r["n"] == n and r["causal"] == causal and r["status"] == "ok"]
        best = max(ok, key=lambda r: r["tflops"])
        print(f"  n {n} causal {causal!s:5}: {best['block_m']} x {best['block_n']}, warps {best['warps']}, "
              f"stages {best['stages']}: {best['tflops']:.1f} TFLOP/s = {best['ratio_to_sdpa']:.2f} x flash SDPA, "
              f"{best['ratio_to_sdpa_default']:.2f} x default SDPA")
    if args.json:
        args.json.write_text(json.dumps({"device": device, "torch": torch.__version__, "triton": triton.__version__,
                                         "command": " ".join(["python", "benchmarks/sweep_triton.py", *(argv or sys.argv[1:])]),
                                         "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
