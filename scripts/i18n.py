"""The Chinese edition (中文版): one source, two languages, with Sphinx's own translation machinery.

    python scripts/i18n.py extract     gettext build of every page into _build/gettext/, then the catalogues
                                       locales/zh_CN/LC_MESSAGES/<page>.po brought up to date (sphinx-intl):
                                       a new message arrives untranslated, a changed one fuzzy
    python scripts/i18n.py config      the Chinese site's _config.yml (language zh_CN), in _build/zh_CN-config/
    python scripts/i18n.py notebooks   zh_CN/notebooks/<chapter>.ipynb: each chapter with its markdown cells
                                       translated from its catalogue; code cells and outputs as they are
    python scripts/i18n.py check       every message translated, none fuzzy, each translation keeping its
                                       message's math, code, links and citations, and the glossary's terms

A message is a paragraph, heading, list item or table cell of a page's markdown, as MyST wrote it (math as
`$...$`, roles as {role}`...`), with its line breaks turned into spaces. The Chinese site is the English
sources built with language zh_CN: Sphinx replaces each message by its translation and parses it again.
The Chinese notebooks are made by finding each message's text in the markdown cells and replacing it, so
that learners who open a chapter from a 中文 page in JupyterLab or Colab read it in Chinese too; their
code is the English notebooks' byte for byte (tests/test_i18n.py), so strict nbval of the English
chapters covers it. Printed outputs and code comments stay English: the code is shared, and a
translation of comments could not be tested against the stored outputs.
"""
import argparse
import copy
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat
import yaml
from babel.messages import pofile

import toc

ROOT = Path(__file__).resolve().parents[1]
LANGUAGE = "zh_CN"
LOCALES = ROOT / "locales"
CATALOGUES = LOCALES / LANGUAGE / "LC_MESSAGES"
POT = ROOT / "_build" / "gettext"
NOTEBOOKS = ROOT / LANGUAGE / "notebooks"     # the Chinese chapters, committed
SITE_CONFIG = ROOT / "_build" / f"{LANGUAGE}-config" / "_config.yml"
TITLE = "注意力可视化（Attention, Visualized）"  # the landing page's title, as translated
BIN = Path(sys.executable).parent


# ---- catalogues --------------------------------------------------------------------------------------------

def extract():
    """Messages of every page into _build/gettext/*.pot, then the .po catalogues updated from them."""
    shutil.rmtree(POT, ignore_errors=True)
    # Its own doctrees: a gettext build cannot reuse the HTML build's environment (TECH_NOTES).
    out = ROOT / "_build" / "gettext-build"
    subprocess.run([BIN / "jupyter-book", "build", str(ROOT), "--builder", "custom", "--custom-builder", "gettext",
                    "--path-output", str(out)], check=True, stdout=subprocess.DEVNULL)
    shutil.move(out / "_build" / "gettext", POT)
    subprocess.run([BIN / "sphinx-intl", "update", "-p", str(POT), "-l", LANGUAGE, "-d", str(LOCALES),
                    "--no-obsolete", "-w", "0"], check=True)


def read(path):
    with open(path, "rb") as f:
        return pofile.read_po(f)


def catalogue(page):
    """The Chinese catalogue of a page ("notebooks/03_algorithm", "book/glossary")."""
    return read(CATALOGUES / f"{page}.po")


def pages():
    """Every page that has a catalogue, as "book/glossary", "notebooks/01_background", ..."""
    return sorted(str(p.relative_to(CATALOGUES).with_suffix("")) for p in CATALOGUES.rglob("*.po"))


def translations(cat):
    """{message: translation} of the translated, not fuzzy, messages of a catalogue."""
    return {m.id: m.string for m in cat if m.id and m.string and not m.fuzzy}


# ---- what a translation must keep --------------------------------------------------------------------------

MATH = re.compile(r"\$\$.+?\$\$|\$[^$\s](?:[^$]*?[^$\s])?\$")
CODE = re.compile(r"(`+)(.+?)\1")
ROLE = re.compile(r"\{([a-z:]+)\}`([^`]*)`")
LINK = re.compile(r"\]\(([^)\s]+)\)|<(https?://[^>]+)>|(?<![(<])(https?://[^\s)>]+)")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff][\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]*")


TITLED = ("doc", "ref", "numref", "term", "download")  # roles whose `title <target>` may translate the title


def role_targets(text):
    """(role, target) of each {role}`...`: a title may be translated, the target not."""
    out = []
    for role, body in ROLE.findall(text):
        target = re.search(r"<([^<>]+)>\s*$", body)
        out.append((role, target.group(1) if role in TITLED and target else body))
    return Counter(out)


def kept(text):
    """What a translation must carry over unchanged, as counts: math, inline code, role targets, links."""
    without_roles = ROLE.sub(" ", text)
    return {"math": Counter(MATH.findall(without_roles)),
            "code": Counter(m.group(2) for m in CODE.finditer(MATH.sub(" ", without_roles))),
            "roles": role_targets(text),
            "links": Counter("".join(g) for g in LINK.findall(text))}


def problems(msgid, msgstr):
    """What is wrong with a translation, as sentences (none: fine)."""
    if not msgstr.strip():
        return ["untranslated"]
    found = []
    if "\n" in msgstr and "\n" not in msgid:
        found.append("a line break (the message is one line; in Chinese a break reads as a space)")
    if re.match(r"\d+[.)]\s", msgstr):
        # Sphinx parses a translation again: "3. 注意力算法" would be a numbered list, not a heading
        found.append("it starts like a numbered list item: escape the dot (3\\. ...)")
    a, b = kept(msgid), kept(msgstr)
    for what in a:
        if a[what] != b[what]:
            lost, added = a[what] - b[what], b[what] - a[what]
            found.append(f"{what} changed: missing {sorted(lost)}, new {sorted(added)}")
    for quote in CJK.findall(msgid):
        if quote not in msgstr:
            found.append(f"the source's Chinese {quote!r} is not kept verbatim")
    if msgid.count("**") != msgstr.count("**"):
        found.append("a different number of ** (bold) markers")
    if msgstr == msgid and msgid in glossary_english():
        return found  # the glossary's English column stays English in the Chinese edition
    prose = re.split("[✘✔]", msgid)[0]  # a checker's message, from its ✘ or ✔ on, is quoted as printed: English
    for english, chinese in glossary_rules():
        if english.search(prose) and not any(c.replace(" ", "") in msgstr.replace(" ", "") for c in chinese):
            found.append(f"glossary: {english.pattern!r} is translated as {' or '.join(chinese)}")
    for wrong, right in AVOID.items():
        if wrong in msgstr:
            found.append(f"glossary: write {right}, not {wrong}")
    return found


# Terms the glossary fixes (d2l-zh's conventions) against the alternatives one meets in the wild.
AVOID = {"询问向量": "查询", "遮罩": "掩码", "掩膜": "掩码", "令牌": "词元", "注意力池化": "注意力汇聚",
         "自我注意力": "自注意力", "多头自我": "多头自", "比例点积": "缩放点积"}


_RULES = None


def glossary_rows():
    """The glossary's table as (English, 中文, definition, chapters) cells."""
    for line in (ROOT / "book" / "glossary.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] not in ("English", "---"):
            yield cells


def glossary_english():
    return {cells[0] for cells in glossary_rows()}


def glossary_rules():
    """(English pattern, Chinese forms) for each glossary term whose English cannot mean anything else:
    terms of two or more words (a single word such as "key" or "head" has everyday senses). A row naming
    several terms ("encoder / decoder", "kernel, bandwidth") pairs them in order; a Chinese alternative in
    parentheses, 掩蔽语言模型（掩码语言模型）, is accepted too."""
    global _RULES
    if _RULES is None:
        _RULES = []
        for cells in glossary_rows():
            english = re.split(r"\s*/\s*|,\s*", " ".join(re.sub(r"\([^)]*\)", " ", cells[0]).split()))
            main = re.split(r"\s*/\s*|、", re.sub(r"（[^）]*）", "", cells[1]).strip())
            alternative = re.sub(r"[^（]*（([^）]*)）", r"\1", cells[1]) if "（" in cells[1] else None
            if len(english) != len(main):
                continue
            for term, chinese in zip(english, main):
                term = term.strip()
                forms = [chinese.strip()] + ([alternative] if alternative and len(main) == 1 and CJK.search(alternative)
                                             else [])
                if " " in term and "$" not in term and CJK.search(forms[0]):
                    _RULES.append((re.compile(r"\b" + re.escape(term) + r"\b", re.I), forms))
    return _RULES


def check():
    """Every message of every catalogue translated, not fuzzy, and keeping what it must; the number of problems."""
    n = bad = 0
    for page in pages():
        for m in catalogue(page):
            if not m.id:
                continue
            n += 1
            found = (["fuzzy"] if m.fuzzy else []) + problems(m.id, m.string)
            if found:
                bad += 1
                print(f"{page}: {m.id[:70]!r}\n    " + "\n    ".join(found))
    print(f"{n} messages in {len(pages())} catalogues, {bad} with problems")
    return bad


# ---- the Chinese notebooks ---------------------------------------------------------------------------------

FENCE = re.compile(r"^(```|~~~)[^\n]*\n.*?^\1[ \t]*$|^\$\$.*?\$\$", re.M | re.S)


def translate_markdown(source, table):
    """`source` (a markdown cell) with each message of `table` ({message: translation}) found in it replaced;
    the messages found. A message is the source's text with its line breaks (and a list item's indentation
    or a quote's `>`) turned into single spaces, so it is looked for with any whitespace between words;
    longer messages first, and never inside a code fence or display math."""
    protected = []  # text set aside (code, display math, translations placed), each behind a placeholder

    def keep(text):
        protected.append(text)
        return f"\x00{len(protected) - 1}\x00"

    def protect(match):
        return keep(match.group(0))

    text = FENCE.sub(protect, source)
    found = set()
    for msgid in sorted(table, key=len, reverse=True):
        words = msgid.split()
        pattern = r"(?<![\w\x00])" + r"(?:\s*>)?\s+".join(map(re.escape, words)) + r"(?![\w\x00])"
        if not re.search(pattern, text):
            continue
        found.add(msgid)
        text = re.sub(pattern, lambda m, t=table[msgid]: keep(t), text)
    while "\x00" in text:
        text = re.sub(r"\x00(\d+)\x00", lambda m: protected[int(m.group(1))], text)
    return text, found


def chinese_notebook(nb, table):
    """A copy of `nb` with its markdown cells translated; the messages of `table` not found in it."""
    nb = copy.deepcopy(nb)
    found = set()
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source, used = translate_markdown(cell.source, table)
            found |= used
    # A cell may print markdown (a table made from data): the site translates it, the notebook keeps
    # its outputs as they are. A message translated as itself (display math, a name) needs no placing.
    printed = " ".join(" ".join(o.get("data", {}).get("text/markdown", "").split())
                       for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    return nb, {m for m in set(table) - found if table[m] != m and " ".join(m.split()) not in printed}


def notebooks(paths=()):
    NOTEBOOKS.mkdir(parents=True, exist_ok=True)
    missing_total = 0
    for path in [Path(p).resolve() for p in paths] or toc.chapters():
        table = translations(catalogue(f"notebooks/{path.stem}"))
        nb, missing = chinese_notebook(nbformat.read(path, as_version=4), table)
        nbformat.write(nb, NOTEBOOKS / path.name)
        missing_total += len(missing)
        print(f"{(NOTEBOOKS / path.name).relative_to(ROOT)}: {len(table) - len(missing)} of {len(table)} "
              f"messages placed" + "".join(f"\n    not found: {m[:80]!r}" for m in sorted(missing)))
    return missing_total


# ---- the Chinese site --------------------------------------------------------------------------------------

def search_words():
    """The glossary's Chinese terms without spaces (jieba's user dictionary: one word per line), so that the
    search index holds 注意力汇聚 and 掩码 as words and not only their single characters."""
    words = set()
    for cells in glossary_rows():
        for term in re.split(r"[（）、/，]", cells[1]):
            term = term.strip()
            if CJK.fullmatch(term):
                words.add(term)
    return sorted(words)


def write_site_config(path=SITE_CONFIG):
    """_config.yml of the Chinese site: the same book, language zh_CN, the catalogues of locales/."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["title"] = TITLE
    sphinx = config["sphinx"]
    sphinx["config"]["language"] = LANGUAGE
    sphinx["config"]["locale_dirs"] = [str(LOCALES)]
    # Chinese has no spaces between words: the search index cuts the text with jieba, which also knows
    # the glossary's terms as words (so that 注意力汇聚 and 掩码 are found as such).
    words = path.parent / "search_words.txt"
    sphinx["config"]["html_search_options"] = {"dict": str(words)}
    # Jupyter Book resolves these against the folder of the configuration file: point them back here.
    sphinx["local_extensions"] = {k: str(ROOT / v) for k, v in sphinx["local_extensions"].items()}
    config["bibtex_bibfiles"] = [str(ROOT / f) for f in config["bibtex_bibfiles"]]
    config["html"]["favicon"] = str(ROOT / config["html"]["favicon"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    words.write_text("".join(f"{w} 1000 n\n" for w in search_words()), encoding="utf-8")
    print(f"{path.relative_to(ROOT)}: the Chinese site ({LANGUAGE})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["extract", "config", "notebooks", "check"])
    parser.add_argument("paths", nargs="*")
    args = parser.parse_args(argv)
    if args.command == "extract":
        extract()
    elif args.command == "config":
        write_site_config()
    elif args.command == "notebooks":
        return 1 if notebooks(args.paths) else 0
    else:
        return 1 if check() else 0


if __name__ == "__main__":
    sys.exit(main())
