"""The ladder of every chapter: an exercise of each level (predict, implement, debug, derive, hard), labelled
in the chapter as a heading "Exercise N.k (level): ..." with the registry's level; and every typical
mistake the registry lists is rejected by its checker with a first message containing its fragment."""
import json
import linecache
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from conftest import torch_and_triton

torch, triton, tl = torch_and_triton()

from attn_course.exercises import EXERCISES, LEVELS

ROOT = Path(__file__).resolve().parents[1]
HEADING = re.compile(r"^#+ Exercise (\d+[a-z]?)\.(\d+) \(([a-z]+)\)", re.M)
# The chapters whose ladder is complete (the others still have the easy/medium labels of their first edition).
LADDER_CHAPTERS = ["06_applications", "06b_transformer", "06c_language_model", "07_tools", "08_efficiency",
                   "08b_gpu_kernel", "09_faq"]


def headings(chapter):
    nb = json.loads((ROOT / "notebooks" / f"{chapter}.ipynb").read_text())
    return [m.groups() for c in nb["cells"] if c["cell_type"] == "markdown"
            for m in HEADING.finditer("".join(c["source"]))]


@pytest.mark.parametrize("chapter", LADDER_CHAPTERS)
def test_the_chapter_climbs_the_whole_ladder(chapter):
    found = headings(chapter)
    assert {level for _, _, level in found} >= set(LEVELS), f"{chapter}: exercise levels {found}"
    assert {level for _, _, level in found} <= set(LEVELS), f"{chapter}: a level outside {LEVELS}: {found}"
    numbers = [int(k) for _, k, _ in found]
    assert sorted(numbers) == list(range(1, len(numbers) + 1)), f"{chapter}: exercises numbered {numbers}"
    registered = Counter(e.level for e in EXERCISES if e.chapter == chapter)
    assert registered == Counter(level for _, _, level in found), \
        f"{chapter}: the registry's levels {dict(registered)} differ from the chapter's headings {found}"


MISTAKES = [(e, m) for e in EXERCISES for m in e.mistakes]


@pytest.mark.parametrize("exercise, mistake", MISTAKES,
                         ids=[f"{e.name}-{i}" for e in EXERCISES for i, _ in enumerate(e.mistakes)])
def test_every_typical_mistake_is_caught_with_its_message(exercise, mistake):
    namespace = {"np": np, "torch": torch, "triton": triton, "tl": tl, "HAVE_TRITON": triton is not None}
    # A file name that linecache knows, as IPython gives a cell: triton.jit reads a kernel's source from it.
    filename = f"<mistake of {exercise.name} {exercise.mistakes.index(mistake)}>"
    linecache.cache[filename] = (len(mistake.code), None, mistake.code.splitlines(True), filename)
    try:
        exec(compile(mistake.code, filename, "exec"), namespace)
        feedback = exercise.checker(*(namespace[name] for name in exercise.solution))
    except ModuleNotFoundError as error:
        pytest.skip(f"{exercise.name} needs {error.name}")
    assert not feedback, f"{exercise.name} accepts the mistake {mistake.code!r}"
    assert mistake.fragment in feedback.message, f"{exercise.name}: {feedback.message!r} lacks {mistake.fragment!r}"
    assert feedback.hints, f"{exercise.name} gives no hint for {mistake.code!r}"
