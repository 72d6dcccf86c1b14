"""The ladder of every chapter: an exercise of each level (predict, implement, debug, derive, hard), labelled
in the chapter as a heading "Exercise N.k (level): ..." with the registry's level; and every typical
mistake the registry lists is rejected by its checker with a first message containing its fragment."""
import json
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import torch_and_triton

torch, triton, tl = torch_and_triton()

from attn_course.exercises import EXERCISES, LEVELS

ROOT = Path(__file__).resolve().parents[1]
HEADING = re.compile(r"^#+ Exercise (\d+[a-z]?)\.(\d+) \(([a-z]+)\)", re.M)
# Every chapter of the course; the two capstones are projects in parts, graded by their checkers and a rubric.
LADDER_CHAPTERS = ["01_background", "02_concepts", "03_algorithm", "04_mathematics", "04b_case_studies", "05_practice",
                   "05b_positions", "06_applications", "06b_transformer", "06c_language_model", "06d_masked_lm",
                   "06e_kv_cache", "07_tools", "08_efficiency", "08b_gpu_kernel", "09_faq"]
CAPSTONES = ["04c_capstone_layer", "08c_capstone_linear_memory"]


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


def test_no_chapter_is_left_off_the_ladder():
    sys.path.insert(0, str(ROOT / "scripts"))
    import toc
    assert sorted(p.stem for p in toc.chapters()) == sorted(LADDER_CHAPTERS + CAPSTONES)
