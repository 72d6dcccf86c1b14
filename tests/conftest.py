"""Shared fixtures: a headless Chromium (Debian's, driven by Playwright) and the built website."""
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"

# Chromium's own background traffic (updates, sync, QUIC probes) would be refused on a closed network
# and show up as noise; these flags switch it off.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is not installed: run `make chromium` (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


# The exercise checkers' verdicts (attn_course.exercises.Feedback), asserted the same way in every test file.

def assert_rejects(feedback, *fragments):
    """A ✘ whose message names every fragment (what is wrong, and the hint)."""
    assert not feedback, f"expected a rejection, got {feedback!r}"
    assert repr(feedback).startswith("✘")
    for fragment in fragments:
        assert fragment in feedback.message, f"{fragment!r} not in {feedback.message!r}"


def assert_accepts(feedback, *fragments):
    """A ✔ (whose message names every fragment, e.g. a hint to go further)."""
    assert feedback, f"expected acceptance, got {feedback!r}"
    assert repr(feedback).startswith("✔")
    for fragment in fragments:
        assert fragment in feedback.message, f"{fragment!r} not in {feedback.message!r}"


def notebook_output(chapter, containing):
    """The stored text output of the first code cell of notebooks/<chapter>.ipynb whose output holds
    `containing`: what the chapter prints, for tests that recompute it."""
    import nbformat

    nb = nbformat.read(ROOT / "notebooks" / f"{chapter}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
            if containing in text:
                return text
    raise AssertionError(f"no output of {chapter} holds {containing!r}")


def reference(checker):
    """The registry's reference answer for `checker` (a tuple when it takes several): the one right answer
    the tests share with the package, instead of a copy of their own."""
    from attn_course.exercises import EXERCISES
    answers = next(e for e in EXERCISES if e.checker is checker).references()
    return answers if len(answers) > 1 else answers[0]


def torch_and_triton():
    """(torch, triton, triton.language), None for what is missing, imported as the chapters import them
    (without a GPU, Triton in its interpreter): attn_course.exercises.grading.chapter_names."""
    from attn_course.exercises.grading import chapter_names
    names = chapter_names()
    return names["torch"], names["triton"], names["tl"]
