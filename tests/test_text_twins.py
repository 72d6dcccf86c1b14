"""Every chapter has a text twin (MyST markdown, notebooks/md/, paired in jupytext.toml) that says what the
notebook says: a review reads the twin's diff. `make text` rewrites the twins from the notebooks."""
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TWINS = ROOT / "notebooks" / "md"


def twin(notebook):
    return TWINS / f"{notebook.stem}.md"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_text_twin_is_the_notebook(notebook):
    expected = jupytext.writes(jupytext.read(notebook), fmt="md:myst")
    assert twin(notebook).exists(), f"{twin(notebook).relative_to(ROOT)} is missing: run `make text`"
    assert twin(notebook).read_text() == expected, \
        f"{twin(notebook).relative_to(ROOT)} differs from {notebook.name}: run `make text` (or save it in JupyterLab)"


def test_every_twin_has_its_notebook():
    orphans = sorted(p.name for p in TWINS.glob("*.md") if not (ROOT / "notebooks" / f"{p.stem}.ipynb").exists())
    assert not orphans, f"text twins without a notebook: {orphans}"


def test_jupytext_pairs_the_chapters_with_their_twins():
    from jupytext.config import load_jupytext_configuration_file
    from jupytext.paired_paths import paired_paths

    config = load_jupytext_configuration_file(str(ROOT / "jupytext.toml"))
    notebook = str(NOTEBOOKS[0])
    paths = [path for path, _ in paired_paths(notebook, "ipynb", config.default_formats(notebook))]
    assert paths == [notebook, str(twin(NOTEBOOKS[0]))]


def test_the_site_does_not_build_the_twins():
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "notebooks/md" in config["exclude_patterns"]
