"""The instructor guide (book/instructor_guide.md) keeps up with the chapters: every chapter's objectives, every
exercise's answer key and every chapter's slides are in it. When a test here fails, regenerate the guide:

    .venv/bin/python scripts/make_instructor_guide.py
"""
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "book" / "instructor_guide.md"
REGENERATE = "run `.venv/bin/python scripts/make_instructor_guide.py`"


def toc_chapters():
    return re.findall(r"^\s*- file: notebooks/(\S+)", (ROOT / "_toc.yml").read_text(), flags=re.M)


def headings(nb):
    """Every heading of a notebook, and for each cell the heading in force there."""
    current, at_cell = "", []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.split("\n"):
                if line.startswith("#"):
                    current = line.lstrip("#").strip()
        at_cell.append(current)
    return at_cell


def stored_text(cell):
    if cell.cell_type != "code":
        return ""
    return "".join(o.get("text", "") if o.get("output_type") == "stream" else o.get("data", {}).get("text/plain", "")
                   for o in cell.get("outputs", []))


@pytest.fixture(scope="module")
def guide():
    return GUIDE.read_text(encoding="utf-8")


def test_the_guide_is_in_the_book():
    assert re.search(r"^\s*- file: book/instructor_guide\s*$", (ROOT / "_toc.yml").read_text(), flags=re.M)


@pytest.mark.parametrize("chapter", toc_chapters())
def test_every_chapter_has_its_objectives_exercises_and_slides(guide, chapter):
    nb = nbformat.read(ROOT / "notebooks" / f"{chapter}.ipynb", as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "markdown").source
    title = first.split("\n", 1)[0].lstrip("# ").strip()
    assert f"\n### {title}\n" in guide, f"{chapter}: no section '### {title}' in the guide; {REGENERATE}"
    objectives = re.search(r":::\{admonition\} Learning objectives\n:class: tip\n(.*?)\n:::", first, re.S).group(1)
    for line in objectives.strip().split("\n")[1:]:
        if line.strip():
            assert line.strip() in guide, f"{chapter}: objective {line.strip()!r} is not in the guide; {REGENERATE}"
    at_cell = headings(nb)
    plain = re.sub(r"\\([\\`*_\[\]<>|$#~])", r"\1", guide)   # the guide's text with markdown escapes undone
    for i, cell in enumerate(nb.cells):
        if "solution" in cell.metadata.get("tags", []):
            assert f"\n#### {at_cell[i]}\n" in guide, f"{chapter}: no answer key for {at_cell[i]!r}; {REGENERATE}"
            # the checker's messages the key quotes are the ones the chapter stores (and nbval checks)
            for j in (i - 1, i - 2, i + 1):
                for line in stored_text(nb.cells[j]).split("\n"):
                    if line.startswith(("✘ ", "✔ ")):
                        assert line[2:].strip() in plain, f"{chapter}: the guide does not quote {line!r}; {REGENERATE}"
    assert f'<a href="../slides/{chapter}.slides.html">' in guide, f"{chapter}: no slides link; {REGENERATE}"


def test_links_point_at_chapters_that_exist(guide):
    for name in re.findall(r'href="\.\./slides/([^"]+)\.slides\.html"', guide):
        assert (ROOT / "notebooks" / f"{name}.ipynb").exists(), f"slides link to a missing chapter: {name}"
    toc = set(toc_chapters())
    for name in re.findall(r"<\.\./notebooks/([^>]+)>`", guide):
        assert name in toc, f"{{doc}} link to {name}, which is not in _toc.yml; {REGENERATE}"


def registry_mistakes():
    from attn_course.exercises import EXERCISES
    return [(e, m) for e in EXERCISES for m in e.mistakes]


@pytest.mark.parametrize("exercise, mistake", registry_mistakes(),
                         ids=[f"{e.name}-{i}" for i, (e, _) in enumerate(registry_mistakes())])
def test_the_answer_keys_quote_the_registrys_typical_mistakes(guide, exercise, mistake):
    """The wrong-answer tables come from the registry (Exercise.mistakes), each message the checker's own."""
    from attn_course.exercises.grading import mistake_answers
    feedback = exercise.checker(*mistake_answers(exercise, mistake))
    plain = re.sub(r"\\([\\`*_\[\]<>|$#~])", r"\1", guide)
    plain = " ".join(plain.split())  # a message's own double spaces (NumPy's) are kept in the page
    assert " ".join(feedback.message.split()) in plain, \
        f"{exercise.name}: the guide does not quote {feedback.message!r}; {REGENERATE}"


def test_the_guide_follows_the_table_of_contents(guide):
    """One list of chapters: the guide has a section for each chapter of _toc.yml, in its order."""
    titles = []
    for chapter in toc_chapters():
        nb = nbformat.read(ROOT / "notebooks" / f"{chapter}.ipynb", as_version=4)
        titles.append(next(c for c in nb.cells if c.cell_type == "markdown").source.split("\n", 1)[0].lstrip("# ").strip())
    at = [guide.index(f"\n### {title}\n") for title in titles]
    assert at == sorted(at), f"the chapters of the guide are not in the order of _toc.yml; {REGENERATE}"
