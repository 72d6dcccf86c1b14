"""The Chinese edition's sources: catalogues complete and current, translations that keep what they must,
and Chinese notebooks whose code is the English chapters' own (scripts/i18n.py)."""
import json
import subprocess
from pathlib import Path
import sys

import nbformat
import pytest
from babel.messages import pofile

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import i18n  # noqa: E402
import toc  # noqa: E402

CHAPTERS = [p.stem for p in toc.chapters()]


def test_every_page_and_chapter_has_a_catalogue():
    pages = set(i18n.pages())
    expected = {f"notebooks/{c}" for c in CHAPTERS} | {f"book/{p.stem}" for p in (ROOT / "book").glob("*.md")}
    assert expected <= pages, f"pages without a Chinese catalogue: {sorted(expected - pages)}"


@pytest.mark.parametrize("page", i18n.pages())
def test_every_message_is_translated_and_keeps_what_it_must(page):
    """No message untranslated or fuzzy; each translation keeps its message's math, code, role targets,
    links, bold markers and Chinese quotations, and uses the glossary's Chinese terms."""
    found = []
    for m in i18n.catalogue(page):
        if m.id:
            issues = (["fuzzy (its English changed since it was translated)"] if m.fuzzy else []) + \
                i18n.problems(m.id, m.string)
            found += [f"{m.id[:60]!r}: {issue}" for issue in issues]
    assert not found, f"{len(found)} problems:\n" + "\n".join(found[:30])


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """The messages of every page as the sources hold them now: a gettext build (about 15 s)."""
    out = tmp_path_factory.mktemp("gettext")
    subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT), "--builder", "custom",
                    "--custom-builder", "gettext", "--path-output", str(out)], check=True, capture_output=True)
    return out / "_build" / "gettext"


def test_catalogues_are_up_to_date_with_the_sources(extracted):
    """A chapter or page changed since its catalogue was updated: run `make translations` and translate."""
    stale = []
    for pot in sorted(extracted.rglob("*.pot")):
        page = pot.relative_to(extracted).with_suffix("").as_posix()
        with open(pot, "rb") as f:
            now = {m.id for m in pofile.read_po(f) if m.id}
        po = i18n.CATALOGUES / f"{page}.po"
        held = {m.id for m in i18n.catalogue(page) if m.id} if po.exists() else set()
        if now != held:
            stale.append(f"{page}: {len(now - held)} new or changed messages, {len(held - now)} gone")
    assert not stale, "catalogues out of date (make translations):\n" + "\n".join(stale)


def english_and_chinese(chapter):
    english = nbformat.read(ROOT / "notebooks" / f"{chapter}.ipynb", as_version=4)
    chinese = nbformat.read(i18n.NOTEBOOKS / f"{chapter}.ipynb", as_version=4)
    return english, chinese


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chinese_notebook_runs_the_english_code(chapter):
    """Code cells byte for byte, with their outputs and metadata: strict nbval of the English chapter
    checks the Chinese one too."""
    english, chinese = english_and_chinese(chapter)
    assert [c.cell_type for c in chinese.cells] == [c.cell_type for c in english.cells]
    for e, z in zip(english.cells, chinese.cells):
        if e.cell_type == "code":
            assert z.source == e.source, f"code cell {e.get('id')} differs from the English chapter's"
            assert json.dumps(z.outputs, sort_keys=True) == json.dumps(e.outputs, sort_keys=True)
            assert z.metadata == e.metadata
    assert chinese.metadata == english.metadata


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chinese_notebook_is_current_and_translated(chapter):
    """The committed Chinese chapter is what the English chapter and its catalogue make now, with every
    message of the catalogue placed (`make translations` remakes it)."""
    english, chinese = english_and_chinese(chapter)
    table = i18n.translations(i18n.catalogue(f"notebooks/{chapter}"))
    made, missing = i18n.chinese_notebook(english, table)
    assert not missing, f"messages not found in the chapter's markdown: {sorted(missing)[:5]}"
    stale = [e.get("id") for e, z in zip(made.cells, chinese.cells) if e.source != z.source]
    assert not stale, f"zh_CN/notebooks/{chapter}.ipynb is out of date (make translations): cells {stale[:5]}"
    title = next(c.source for c in chinese.cells if c.cell_type == "markdown")
    assert i18n.CJK.search(title), f"the chapter's first markdown cell is not in Chinese: {title[:80]!r}"


# ---- the rules themselves --------------------------------------------------------------------------------

def test_a_faithful_translation_passes():
    msgid = ("The **causal mask** hides $j > i$; call `softmax(scores, axis=-1)` as in {cite:p}`vaswani2017attention`, "
             "see {doc}`the glossary <../book/glossary>` and [the paper](https://arxiv.org/abs/1706.03762).")
    msgstr = ("**因果掩码**遮住 $j > i$；像 {cite:p}`vaswani2017attention` 那样调用 `softmax(scores, axis=-1)`，"
              "参见{doc}`术语表 <../book/glossary>`和[论文](https://arxiv.org/abs/1706.03762)。")
    assert i18n.problems(msgid, msgstr) == []


@pytest.mark.parametrize("msgstr, problem", [
    ("", "untranslated"),
    ("因果掩码遮住 $j \\ge i$。", "math changed"),
    ("因果掩码：调用 `softmax(scores)`。", "code changed"),
    ("因果掩码，见{doc}`术语表 <glossary>`。", "roles changed"),
    ("因果掩码，见[论文](https://example.org)。", "links changed"),
    ("因果**掩码遮住。", "bold"),
    ("因果掩码遮住\n后面的位置。", "line break"),
    ("因果遮罩遮住后面的位置。", "glossary"),
])
def test_a_translation_that_loses_something_is_caught(msgstr, problem):
    msgid = "The causal mask hides later positions."
    if problem == "math changed":
        msgid = "The causal mask hides $j > i$."
    elif problem == "code changed":
        msgid = "The causal mask: call `softmax(scores, axis=-1)`."
    elif problem == "roles changed":
        msgid = "The causal mask, see {doc}`the glossary <../book/glossary>`."
    elif problem == "links changed":
        msgid = "The causal mask, see [the paper](https://arxiv.org/abs/1706.03762)."
    elif problem == "bold":
        msgid = "The **causal mask** hides later positions."
    found = i18n.problems(msgid, msgstr)
    assert any(problem in f for f in found), found


def test_the_sources_chinese_is_kept_verbatim():
    msgid = "The source calls the key a 关键向量 (key vector)."
    assert i18n.problems(msgid, "原文把键称为关键向量（key vector）。") == []
    assert any("verbatim" in p for p in i18n.problems(msgid, "原文把键称为关键的向量（key vector）。"))


def test_glossary_rules_pair_terms_and_accept_alternatives():
    rules = {r.pattern: forms for r, forms in i18n.glossary_rules()}
    assert rules[r"\bscaled\ dot\-product\ attention\b"] == ["缩放点积注意力"]
    assert rules[r"\bhard\ lookup\b"] == ["硬查找"]  # "soft lookup / hard lookup": paired in order
    assert "掩码语言模型" in rules[r"\bmasked\ language\ model\b"]  # the alternative in parentheses
    assert r"\bkey\b" not in rules  # one word has everyday senses: no rule


def test_markdown_translation_finds_messages_across_lines_and_leaves_code_alone():
    source = ("## Why scale?\n\n"
              "Scores grow with $d_k$, so the\nsoftmax saturates.\n\n"
              "- a list item that runs\n  over two lines\n\n"
              "| term | meaning |\n| --- | --- |\n| query | asks |\n\n"
              "```python\nquery = softmax(x)  # query\n```\n")
    table = {"Why scale?": "为什么要缩放？", "Scores grow with $d_k$, so the softmax saturates.": "得分随 $d_k$ 增大，softmax 于是饱和。",
             "a list item that runs over two lines": "一个跨两行的列表项", "query": "查询", "term": "术语",
             "meaning": "含义", "absent": "不在"}
    text, found = i18n.translate_markdown(source, table)
    assert "## 为什么要缩放？" in text and "得分随 $d_k$ 增大，softmax 于是饱和。" in text
    assert "- 一个跨两行的列表项" in text and "| 查询 | asks |" in text and "| 术语 | 含义 |" in text
    assert "query = softmax(x)  # query" in text, "a code fence must not be translated"
    assert found == set(table) - {"absent"}


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chinese_student_edition_leaves_out_the_same_solutions(chapter):
    """`make student` writes the Chinese student edition from zh_CN/notebooks/: its code cells are the
    English student edition's (tests/test_student_edition.py checks those leave no solution)."""
    import make_student_edition as student
    english, chinese = (student.student_notebook(nb) for nb in english_and_chinese(chapter))
    assert [c.source for c in chinese.cells if c.cell_type == "code"] == \
        [c.source for c in english.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") for c in chinese.cells if c.cell_type == "code")
