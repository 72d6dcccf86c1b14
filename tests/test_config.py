"""The book's configuration: one repository setting, and chapters that are ready for Colab."""
import json
from pathlib import Path

import yaml

import attn_course

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_every_chapter_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    for nb in CHAPTERS:
        assert f"file: notebooks/{nb.stem}" in toc, f"{nb.name} is not in _toc.yml"


def test_first_cell_installs_this_release_with_the_repository_as_fallback():
    url = CONFIG["repository"]["url"]
    for nb in CHAPTERS:
        first = "".join(json.loads(nb.read_text())["cells"][0]["source"])
        assert 'find_spec("attn_course") is None' in first, f"{nb.name}: first cell must skip an installed package"
        assert f'release = "attn-course=={attn_course.__version__}"' in first, \
            f"{nb.name}: first cell must install the release attn-course=={attn_course.__version__} by name"
        assert f'"git+{url}"' in first, f"{nb.name}: first cell must fall back on repository.url ({url})"


def test_chapters_open_with_learning_objectives():
    for nb in CHAPTERS:
        cells = json.loads(nb.read_text())["cells"]
        heading = next(c for c in cells if c["cell_type"] == "markdown")
        assert "Learning objectives" in "".join(heading["source"]), f"{nb.name}: objectives must open the chapter"


def test_no_cdn_in_the_configuration():
    sphinx = CONFIG["sphinx"]["config"]
    for key in ("mathjax_path", "mermaid_use_local"):
        assert not sphinx[key].startswith(("http:", "https:", "//")), key
    assert all(not path.startswith(("http:", "https:", "//")) for path in sphinx["nb_ipywidgets_js"])


def test_package_does_not_require_torch():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.lower().startswith("torch")], \
        "attn_course must not depend on torch: Colab brings its own build"
