"""Every chapter on a CUDA GPU: each picks the GPU by itself when one is present, and must put its work there.

Skipped without CUDA (CI has none; run this on a machine that has one). The stored outputs are made on
the CPU (scripts/execute_notebooks.py), and chapters print only device-independent results, so this test
asks that every cell runs with the GPU visible, and that every chapter that uses PyTorch really allocated
memory on the GPU (a chapter that silently stayed on the CPU fails).
"""
import json
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# A last cell that reports what the chapter did on the GPU (the kernel's own process: only it can tell).
PROBE = ("import json, sys\n"
         "_t = sys.modules.get('torch')\n"
         "print(json.dumps({'torch': _t is not None,\n"
         "                  'initialised': bool(_t and _t.cuda.is_initialized()),\n"
         "                  'peak_bytes': int(_t.cuda.max_memory_allocated()) if _t and _t.cuda.is_initialized() else 0}))")


def uses_torch(nb):
    return any(c.cell_type == "code" and "import torch" in c.source for c in nb.cells)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_runs_on_the_gpu(path):
    nb = nbformat.read(path, as_version=4)
    probe = nbformat.v4.new_code_cell(PROBE)
    nb.cells.append(probe)
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env.update(PYTHONHASHSEED="0", MPLBACKEND="module://matplotlib_inline.backend_inline")
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute(env=env)
    report = json.loads("".join(o.get("text", "") for o in probe.outputs))
    print(path.name, report)
    if uses_torch(nb):
        assert report["initialised"], f"{path.name} imports torch but never used the GPU"
        assert report["peak_bytes"] > 0, f"{path.name} initialised CUDA but allocated nothing on it"
