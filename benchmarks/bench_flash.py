"""Tiled attention (online softmax) vs plain attention in NumPy: equal outputs, memory, time.

    .venv/bin/python benchmarks/bench_flash.py [n ...]      (default n = 1024 4096 16384)

One head, d = 64, float32, non-causal. Peak memory is what NumPy allocates during the call, measured
with tracemalloc (NumPy reports its buffers to it), so it counts the arrays each method creates, not
the inputs. Times are the median of a few runs, side by side in the same process.
Targets (issue 7): tiled peak memory <= 1/10 of plain's at n = 16384; tiled time within 2x of plain.
"""
import statistics
import sys
import time
import tracemalloc

import numpy as np

from attn_course import scaled_dot_product_attention
from attn_course.flash import tiled_attention

BLOCK = 512


def plain(q, k, v):
    return scaled_dot_product_attention(q, k, v)[0]


def tiled(q, k, v):
    return tiled_attention(q, k, v, block_size=BLOCK)


def peak_mib(fn, *args):
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def seconds(fn, *args, repeats):
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main(ns):
    rng = np.random.default_rng(0)
    print(f"tiled block = {BLOCK}, d = 64, float32, one head")
    print(f"{'n':>6} {'max|diff|':>10} {'plain MiB':>10} {'tiled MiB':>10} {'mem ratio':>10} "
          f"{'plain s':>8} {'tiled s':>8} {'time ratio':>10}")
    for n in ns:
        q, k, v = (rng.standard_normal((n, 64)).astype(np.float32) for _ in range(3))
        diff = float(np.abs(plain(q, k, v) - tiled(q, k, v)).max())
        mem_plain, mem_tiled = peak_mib(plain, q, k, v), peak_mib(tiled, q, k, v)
        repeats = 5 if n <= 4096 else 2
        t_plain, t_tiled = seconds(plain, q, k, v, repeats=repeats), seconds(tiled, q, k, v, repeats=repeats)
        print(f"{n:>6} {diff:>10.2e} {mem_plain:>10.1f} {mem_tiled:>10.1f} {mem_tiled / mem_plain:>10.3f} "
              f"{t_plain:>8.3f} {t_tiled:>8.3f} {t_tiled / t_plain:>10.2f}", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1024, 4096, 16384])
