"""Every chapter on a CUDA GPU: each picks the GPU by itself when one is present, and must run there.

Skipped without CUDA (CI has none; run this on a machine that has one). The stored outputs are made on
the CPU (scripts/execute_notebooks.py), and chapters print only device-independent results, so this test
asks that every cell runs with the GPU visible; it prints which chapters initialised CUDA.
"""
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_runs_on_the_gpu(path):
    nb = nbformat.read(path, as_version=4)
    probe = nbformat.v4.new_code_cell("import torch; print('cuda initialised:', torch.cuda.is_initialized())")
    nb.cells.append(probe)
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env.update(PYTHONHASHSEED="0", MPLBACKEND="module://matplotlib_inline.backend_inline")
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute(env=env)
    print(path.name, "".join(o.get("text", "") for o in probe.outputs).strip())
