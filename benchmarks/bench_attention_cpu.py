"""NumPy attention vs PyTorch's fused attention on the CPU: time and peak memory.

    .venv/bin/python benchmarks/bench_attention_cpu.py [n ...]      (default n = 256 1024 4096)

q, k, v: (1, 8, n, 64) float32 (batch x heads = 8, d = 64), non-causal, no mask. Compared:
    numpy      attn_course.scaled_dot_product_attention (returns the output and the (1, 8, n, n) weights)
    torch      torch.nn.functional.scaled_dot_product_attention (returns the output only). With 4-D
               inputs it runs its fused CPU kernel (FlashAttention-style tiles: the n x n weights are
               never stored). With the same numbers laid out 3-D, (8, n, 64), that kernel does not
               apply and it falls back to the "math" path, which stores the scores and weights as
               NumPy does: the column "torch 3-D".
Threads: NumPy's matrix products run on its BLAS's threads; each of its element-wise functions (max,
exp, sum, divide) runs on one thread, so attn_course hands blocks of rows of the softmax to a thread
pool of os.cpu_count() threads. torch.set_num_threads is set to the BLAS's thread count, printed first.
Times: the median of a few runs, NumPy and PyTorch alternating, so that a busy machine slows both.
Memory, two measures:
    traced     NumPy only: the peak of what NumPy allocated during the call, from tracemalloc (NumPy
               reports its buffers to it). The (8, n, n) float32 weights alone are 32 n² bytes.
    peak RSS   both: the growth of the process's resident memory at its highest during the call, from
               Linux's VmHWM after resetting it (/proc/self/clear_refs). It counts every page touched,
               by whichever allocator, so it sees PyTorch's allocations too; it misses memory that an
               allocator had already taken from the OS and kept. "-" where the reset is not allowed.
Target (issue 3): NumPy within 1.5x of PyTorch for n >= 1024. The ratios are numpy / torch.
"""
import statistics
import sys
import time
import tracemalloc

import numpy as np
import torch
from threadpoolctl import threadpool_info

from attn_course import scaled_dot_product_attention

BATCH_HEADS, D = 8, 64


def blas_threads():
    blas = [p for p in threadpool_info() if p["user_api"] == "blas"]
    return (blas[0]["internal_api"], blas[0]["num_threads"]) if blas else ("unknown BLAS", torch.get_num_threads())


def numpy_attention(q, k, v):
    return scaled_dot_product_attention(q, k, v)[0]


def torch_attention(q, k, v):
    with torch.no_grad():
        return torch.nn.functional.scaled_dot_product_attention(q, k, v)


def _status_kib(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field))


def peak_rss_mib(fn, *args):
    """Highest resident memory during fn(*args), above the resident memory before it; None if not measurable."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM, the peak, to the current resident size
        before = _status_kib("VmRSS:")
    except OSError:
        return None
    fn(*args)
    return (_status_kib("VmHWM:") - before) / 1024


def traced_mib(fn, *args):
    tracemalloc.start()
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def median_seconds(fns, args, repeats):
    runs = [[] for _ in fns]
    for _ in range(repeats):
        for fn, a, times in zip(fns, args, runs):
            start = time.perf_counter()
            fn(*a)
            times.append(time.perf_counter() - start)
    return [statistics.median(t) for t in runs]


def main(ns):
    blas, threads = blas_threads()
    torch.set_num_threads(threads)
    print(f"numpy {np.__version__} ({blas}, {threads} threads), torch {torch.__version__} "
          f"({torch.get_num_threads()} threads); q, k, v: (1, {BATCH_HEADS}, n, {D}) float32")
    print(f"{'n':>5} {'numpy ms':>9} {'torch ms':>9} {'ratio':>6} {'torch 3-D ms':>13} {'ratio':>6} "
          f"{'numpy traced MiB':>17} {'peak RSS MiB: numpy':>20} {'torch':>6} {'torch 3-D':>10} {'max|diff|':>9}")
    rng = np.random.default_rng(0)
    for n in ns:
        q, k, v = (rng.standard_normal((1, BATCH_HEADS, n, D), dtype=np.float32) for _ in range(3))
        t4 = tuple(torch.from_numpy(a) for a in (q, k, v))
        t3 = tuple(t[0] for t in t4)  # (8, n, 64): the same numbers, 3-D
        diff = float(np.abs(numpy_attention(q, k, v) - torch_attention(*t4).numpy()).max())  # also warms up
        torch_attention(*t3)
        rss = [peak_rss_mib(numpy_attention, q, k, v), peak_rss_mib(torch_attention, *t4),
               peak_rss_mib(torch_attention, *t3)]
        traced = traced_mib(numpy_attention, q, k, v)
        repeats = 15 if n <= 1024 else 3
        t_numpy, t_torch, t_torch3 = median_seconds([numpy_attention, torch_attention, torch_attention],
                                                    [(q, k, v), t4, t3], repeats)
        rss = [f"{r:.1f}" if r is not None else "-" for r in rss]
        print(f"{n:>5} {1e3 * t_numpy:>9.1f} {1e3 * t_torch:>9.1f} {t_numpy / t_torch:>6.2f} {1e3 * t_torch3:>13.1f} "
              f"{t_numpy / t_torch3:>6.2f} {traced:>17.1f} {rss[0]:>20} {rss[1]:>6} {rss[2]:>10} {diff:>9.1e}",
              flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [256, 1024, 4096])
