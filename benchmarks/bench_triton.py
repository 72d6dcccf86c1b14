"""The Triton kernel vs PyTorch's FlashAttention (SDPA) vs plain matmul-softmax-matmul, on a CUDA GPU.

    python benchmarks/bench_triton.py --json benchmarks/results/bench_triton_h100.json
    python benchmarks/bench_triton.py --n 1024 4096 --d 128 --causal yes      (a subset)

float16, batch 4, 16 heads for d = 128 and 32 for d = 64 (the same model width, 2048), n from 512 to
16384, causal and not. For each method it prints the time, the throughput in TFLOP/s counted as
4 * batch * heads * n^2 * d flops (half of that for causal: the masked half is never computed), the
ratio of that throughput to SDPA's, and the peak memory allocated during the call
(torch.cuda.max_memory_allocated, which includes the inputs q, k, v that every method shares).
A method that runs out of memory is printed as OOM. With --json the results, the device and the
command are also written to a file that notebooks/08b_gpu_kernel.ipynb draws.

The methods:
    triton   attn_course.triton_attention.flash_attention, tile sizes autotuned on the first call
    sdpa     torch.nn.functional.scaled_dot_product_attention restricted to its flash backend
             (torch.nn.attention.sdpa_kernel(SDPBackend.FLASH_ATTENTION))
    plain    softmax(q @ k^T * scale) @ v in PyTorch, which stores the (n, n) scores of every head

Issue 8's target on an H100: the kernel at >= 0.8x SDPA's throughput for n >= 2048, d = 128, and
plain PyTorch out of memory where the kernel is not. On a machine without CUDA this script says so
and exits with status 0, measuring nothing.
"""
import argparse
import datetime
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

NS = [512, 1024, 2048, 4096, 8192, 16384]
BATCH = 4
HEADS = {64: 32, 128: 16}
METHODS = ["triton", "sdpa", "plain"]


def plain_attention(q, k, v, causal):
    """softmax(q k^T / sqrt(d)) v the textbook way: the (batch, heads, n, n) scores are stored."""
    s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    if causal:
        n = q.shape[-2]
        s = s.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
    return torch.softmax(s, dim=-1) @ v


def sdpa_flash(q, k, v, causal):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


def milliseconds(fn, device, warmup=3, repeats=10):
    """Median time of one call: CUDA events around each call on a GPU (perf_counter on a CPU, for tests)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        else:
            start = time.perf_counter()
            fn()
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def measure(fn, flops, device="cuda", repeats=10):
    """{"status", "ms", "tflops", "peak_mib"} for one method on one shape; running out of memory is "OOM"."""
    cuda = device == "cuda"
    failed = dict(ms=None, tflops=None, peak_mib=None)
    try:
        fn()  # the first call compiles and autotunes (its timing runs allocate memory of their own)
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        fn()
        if cuda:
            torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
        ms = milliseconds(fn, device, warmup=1, repeats=repeats)
    except torch.OutOfMemoryError:
        return dict(status="OOM", **failed)
    except RuntimeError as error:  # e.g. no flash backend for this GPU, dtype or shape
        return dict(status="error: " + str(error).strip().splitlines()[0][:100], **failed)
    finally:
        if cuda:
            torch.cuda.empty_cache()
    return dict(status="ok", ms=ms, tflops=flops / (ms * 1e-3) / 1e12, peak_mib=peak)


def run(ns, ds, causals, kernel, *, device="cuda", batch=BATCH, heads=HEADS, repeats=10):
    """Measure every method on every (d, causal, n); print a table as it goes and return its rows."""
    rows = []
    header = (f"{'d':>4} {'causal':>6} {'n':>6} {'method':>7} {'ms':>9} {'TFLOP/s':>8} {'x SDPA':>7} "
              f"{'peak MiB':>9} {'max|diff|':>9}")
    print(header)
    print("-" * len(header))
    for d in ds:
        h = heads[d]
        for causal in causals:
            for n in ns:
                flops = 4 * batch * h * n * n * d // (2 if causal else 1)
                g = torch.Generator(device=device).manual_seed(0)
                q, k, v = (torch.randn(batch, h, n, d, device=device, dtype=torch.float16 if device == "cuda"
                                       else torch.float32, generator=g) for _ in range(3))
                fns = {"sdpa": lambda: sdpa_flash(q, k, v, causal), "plain": lambda: plain_attention(q, k, v, causal)}
                if kernel is not None:
                    fns["triton"] = lambda: kernel(q, k, v, causal=causal)
                results = {name: measure(fns[name], flops, device, repeats) if name in fns else
                           dict(status="unavailable", ms=None, tflops=None, peak_mib=None) for name in METHODS}
                diff = None
                if results["triton"]["status"] == "ok":  # the kernel against the textbook, in float32
                    expected = plain_attention(q.float(), k.float(), v.float(), causal) if n <= 4096 else None
                    if expected is not None:
                        diff = (kernel(q, k, v, causal=causal).float() - expected).abs().max().item()
                    del expected
                for name in METHODS:
                    r = results[name]
                    base = results["sdpa"]["tflops"]
                    ratio = r["tflops"] / base if r["tflops"] and base else None
                    rows.append(dict(d=d, causal=causal, n=n, batch=batch, heads=h, method=name, ratio_to_sdpa=ratio,
                                     max_abs_diff=diff if name == "triton" else None, **r))
                    cells = _cells(r, ratio, diff if name == "triton" else None)
                    print(f"{d:>4} {str(causal):>6} {n:>6} {name:>7} {cells}", flush=True)
                q = k = v = fns = None  # frees them (and what the closures hold) before the next size
                if device == "cuda":
                    torch.cuda.empty_cache()
    return rows


def _cells(r, ratio, diff):
    if r["status"] != "ok":
        return r["status"]
    fmt = lambda x, spec, width: format(x, spec).rjust(width) if x is not None else "-".rjust(width)
    return " ".join([fmt(r["ms"], ".3f", 9), fmt(r["tflops"], ".1f", 8), fmt(ratio, ".2f", 7),
                     fmt(r["peak_mib"], ".0f", 9), fmt(diff, ".1e", 9)])


def record(rows, device, triton_version, argv):
    """The JSON document: the device, the versions and the command with every row."""
    return {"device": device, "torch": torch.__version__, "cuda": torch.version.cuda, "triton": triton_version,
            "python": platform.python_version(), "command": " ".join(["python", "benchmarks/bench_triton.py", *argv]),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "dtype": "float16", "flops": "4 * batch * heads * n^2 * d, halved when causal", "results": rows}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--n", type=int, nargs="+", default=NS, help=f"sequence lengths (default {NS})")
    parser.add_argument("--d", type=int, nargs="+", default=[64, 128], choices=sorted(HEADS), help="head dimensions")
    parser.add_argument("--causal", choices=["no", "yes", "both"], default="both")
    args = parser.parse_args(argv)

    if not torch.cuda.is_available():
        print("bench_triton.py measures GPU kernels and needs a CUDA GPU, but torch.cuda.is_available() is False "
              f"(torch {torch.__version__}). Nothing was measured. Run it on a machine with an NVIDIA GPU, e.g.\n"
              "    python benchmarks/bench_triton.py --json benchmarks/results/bench_triton_h100.json")
        return 0
    try:
        from attn_course.triton_attention import flash_attention as kernel
        import triton
        triton_version = triton.__version__
    except ImportError as error:
        print(f"Triton is not available ({error}): measuring SDPA and plain PyTorch only")
        kernel, triton_version = None, None

    causals = {"no": [False], "yes": [True], "both": [False, True]}[args.causal]
    device = torch.cuda.get_device_name()
    print(f"{device}, torch {torch.__version__}, CUDA {torch.version.cuda}, triton {triton_version}; "
          f"float16, batch {BATCH}, heads {HEADS} (by d)")
    rows = run(args.n, args.d, causals, kernel)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record(rows, device, triton_version, sys.argv[1:] if argv is None else argv),
                                        indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
