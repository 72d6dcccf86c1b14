"""The measured speed and memory of the Triton kernel against PyTorch's (chapter 8b).

benchmarks/bench_triton.py --json writes the record on a GPU; this draws it on any machine.
"""
import matplotlib.pyplot as plt

from . import ACCENT, BAR, INPUT, style

METHOD_STYLE = {"triton": ("this kernel (Triton)", ACCENT, "o-"),
                "sdpa": ("PyTorch SDPA, flash backend", BAR, "s--"),
                "plain": ("plain PyTorch (n × n scores)", INPUT, "^:")}


def plot_benchmark(record, d=128, axes=None):
    """Throughput (top) and peak memory (bottom) against n, non-causal (left) and causal (right), for
    head dimension d, from a record written by benchmarks/bench_triton.py --json. OOM is marked ×.
    Returns the 2 x 2 array of axes, titled with the device."""
    rows = [r for r in record["results"] if r["d"] == d]
    if not rows:
        have = sorted({r["d"] for r in record["results"]})
        raise ValueError(f"the record has no results for d = {d}; it has d in {have}")
    if axes is None:
        with style():
            _, axes = plt.subplots(2, 2, figsize=(8, 5.6), sharex=True)
    for column, causal in enumerate([False, True]):
        top, bottom = axes[0, column], axes[1, column]
        for method, (label, colour, fmt) in METHOD_STYLE.items():
            mine = sorted((r for r in rows if r["method"] == method and r["causal"] == causal), key=lambda r: r["n"])
            ok = [r for r in mine if r["status"] == "ok"]
            top.plot([r["n"] for r in ok], [r["tflops"] for r in ok], fmt, color=colour, label=label)
            measured = [r for r in ok if r["peak_mib"] is not None]  # None: not measured (on a CPU)
            bottom.plot([r["n"] for r in measured], [r["peak_mib"] / 1024 for r in measured], fmt, color=colour,
                        label=label)
            oom = [r["n"] for r in mine if r["status"] == "OOM"]
            if oom:
                top.plot(oom, [0] * len(oom), "x", color=colour, markersize=9, clip_on=False, zorder=3,
                         label=f"{label}: out of memory")
        heads = sorted({r["heads"] for r in rows})
        top.set(title=f"{'causal' if causal else 'non-causal'}, d = {d}, heads = {heads[0]}", ylabel="TFLOP/s")
        bottom.set(xlabel="sequence length n", ylabel="peak memory (GiB)", xscale="log", yscale="log")
        ns = sorted({r["n"] for r in rows})
        bottom.set_xticks(ns, [str(n) for n in ns])
        bottom.minorticks_off()
        top.set_ylim(bottom=0)
    axes[0, 0].legend(loc="upper left")
    axes[0, 0].figure.suptitle(f"float16 on {record['device']} (torch {record['torch']}, triton {record['triton']})")
    return axes
