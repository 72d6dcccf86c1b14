"""The one list of chapters: the notebooks of `_toc.yml`, in its order. Every script that needs the chapters
reads them here, so adding a chapter to the table of contents adds it to the student edition, the
instructor guide, the grading export, the slides and the class links."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def chapters(toc=ROOT / "_toc.yml"):
    """notebooks/NN_name.ipynb paths (absolute), in the order of the table of contents."""
    parts = yaml.safe_load(Path(toc).read_text())["parts"]
    return [ROOT / f"{entry['file']}.ipynb" for part in parts for entry in part["chapters"]
            if entry["file"].startswith("notebooks/")]
