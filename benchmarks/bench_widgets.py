"""Time one slider event of each explorer: compute, move the artists, encode the PNG.

    python benchmarks/bench_widgets.py [events]

Target: p95 <= 50 ms on a 2-core laptop, so that dragging a slider feels live.
"""
import sys
import time

import numpy as np

import attn_course as ac
from attn_course import widgets


def explorers(events):
    """(explorer, control name, values to cycle through) for each explorer, as a chapter would build it.

    Continuous sliders get a new value on every event, as when dragging: nothing is drawn from a cache.
    """
    sentence = ["the", "cat", "sat", "on", "the", "mat"]
    heads = ac.softmax(np.random.default_rng(0).standard_normal((2, 4, 6, 6)))
    yield (widgets.SoftmaxExplorer([2.0, 1.0, 0.1, -1.0], labels=["cat", "mat", "sat", "on"]),
           "cat", np.linspace(-5, 5, events))
    yield (widgets.WeightedSumExplorer(keys=[[1.0, 0.2], [-0.3, 1.0], [-0.8, -0.6], [0.6, -0.9]],
                                       values=[[1.5, 0.5], [0.0, 1.6], [-1.4, -0.2], [0.4, -1.3]]),
           "angle", np.linspace(-180, 180, events).round())
    yield widgets.ScalingExplorer(), "d_k", widgets.ScalingExplorer.D_KS
    yield widgets.MaskExplorer(sentence), "causal", [True, False]
    yield widgets.MaskExplorer(sentence), "key 2", [False, True]
    yield widgets.KernelRegressionExplorer(), "h", np.geomspace(0.05, 3, 9)
    yield widgets.MultiHeadExplorer(heads, sentence), "head", [1, 2, 3, 0]


def main(events=50):
    print(f"{'explorer':<26} {'control':<8} {'median ms':>9} {'p95 ms':>7} {'PNG KB':>7}")
    for explorer, name, values in explorers(events):
        control, seconds = explorer.controls[name], []
        for i in range(events):
            start = time.perf_counter()
            control.value = values[i % len(values)]
            seconds.append(time.perf_counter() - start)
        ms = 1e3 * np.array(seconds)
        print(f"{type(explorer).__name__:<26} {name:<8} {np.median(ms):>9.1f} {np.percentile(ms, 95):>7.1f} "
              f"{len(explorer.image.value) / 1024:>7.1f}")


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
