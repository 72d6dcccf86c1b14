"""Re-execute the chapters in place, so their stored outputs are what the code produces now.

    python scripts/execute_notebooks.py [notebooks/03_algorithm.ipynb ...]

Deterministic: every chapter seeds its own generators, the hash seed is fixed, and the kernel runs
on the CPU (CUDA_VISIBLE_DEVICES="") so the stored outputs never depend on the machine that ran it.
nbclient stores the widget state, which the website uses to draw the explorers' snapshots.
"""
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

import toc

ROOT = Path(__file__).resolve().parents[1]


def execute(path):
    nb = nbformat.read(path, as_version=4)
    os.environ.update(PYTHONHASHSEED="0", CUDA_VISIBLE_DEVICES="", MPLBACKEND="module://matplotlib_inline.backend_inline")
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
                            record_timing=False, store_widget_state=True)
    start = time.perf_counter()
    client.execute()
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main(paths):
    paths = [Path(p).resolve() for p in paths] or toc.chapters()
    for path in paths:
        print(f"{path.relative_to(ROOT)}: executed in {execute(path):.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
