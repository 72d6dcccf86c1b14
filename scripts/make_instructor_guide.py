"""Write book/instructor_guide.md, the instructor guide, from the chapters and the exercise registry.

    .venv/bin/python scripts/make_instructor_guide.py

Run it again whenever a chapter's objectives, sections or exercises change (tests/test_instructor_guide.py
says when). What comes from where:

    learning objectives      each chapter's `Learning objectives` block, verbatim
    exercises                every cell tagged `solution`: its section heading, the checker called in the
                             first attempt before it (with that cell's stored, nbval-checked message), and
                             the checker's ✔ message stored after it
    typical wrong answers    every mistake listed with the exercise in the registry (`Exercise.mistakes` in
                             attn_course.exercises.EXERCISES), run through its checker, so each message
                             quoted is the one the checker really gives; the level and points come from
                             the registry too
    student edition          the stub scripts/make_student_edition.py leaves, run through the checker
    the prose                scripts/instructor_guide/*.md: the page with its generated parts marked
                             (page.md), the sessions, the misconceptions and the prerequisites; every
                             section they cite as [[chapter#heading]] is checked to exist in its chapter,
                             and what refers to a chapter missing from _toc.yml is left out
    the chapters             _toc.yml, in its order

The page it writes is plain MyST markdown; nothing is generated at build time.
"""
import ast
import inspect
import re
import sys
import warnings
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]
import attn_course.exercises as E  # noqa: E402
from attn_course.exercises.grading import mistake_answers  # noqa: E402
import toc  # noqa: E402

PRESENT = [path.stem for path in toc.chapters()]   # the chapters, in the order of _toc.yml
TOC = set(PRESENT)
EXPLORERS = ["SoftmaxExplorer", "WeightedSumExplorer", "ScalingExplorer", "MaskExplorer",
             "KernelRegressionExplorer", "MultiHeadExplorer", "ExampleExplorer", "RotaryExplorer"]
TODO = "exercise: write your solution here, then run the checker below"
problems = []


# -------------------------------------------------------------------------------------------------
# Typical wrong answers: the registry's mistakes (Exercise.mistakes), run through their checkers

def wrong_answers():
    """checker name -> [(description, message)]: each typical mistake of the registry, defined as the student
    would write it and run through the checker, so each message quoted is the one the checker really gives."""
    out = {}
    for exercise in E.EXERCISES:
        for mistake in exercise.mistakes:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    feedback = exercise.checker(*mistake_answers(exercise, mistake))
            except Exception as e:  # noqa: BLE001 - a mistake that needs a missing package (torch, Triton)
                problems.append(f"{exercise.name}: a mistake not run ({type(e).__name__}: {e})")
                continue
            if feedback:
                problems.append(f"{exercise.name}: the checker accepts a listed mistake")
                continue
            first = next((line for line in mistake.code.splitlines() if line.strip().startswith("#")), "")
            what = esc(first.strip().lstrip("#").strip()) if first else code(" ".join(mistake.code.split()))
            out.setdefault(exercise.name, []).append((what, feedback.message))
    return out


def esc(text):
    """Markdown-escape a message for a table cell or a paragraph."""
    text = text.replace("\\", "\\\\")
    for ch in "`*_[]<>|$#~":
        text = text.replace(ch, "\\" + ch)
    return text.replace("\n", " ")


def code(text):
    """An inline code span for a table cell (pipes escaped for the table)."""
    text = text.replace("\n", " ").replace("|", "\\|")
    ticks = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


class Chapter:
    """One notebook: its title, objectives, headings, exercises and explorers."""

    def __init__(self, stem):
        self.stem = stem
        self.nb = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
        first_md = next(c for c in self.nb.cells if c.cell_type == "markdown")
        self.title = first_md.source.split("\n", 1)[0].lstrip("# ").strip()
        self.number = self.title.split(".", 1)[0]
        self.short = self.title.split(".", 1)[1].strip() if "." in self.title else self.title
        self.name = f"Chapter {self.number}" if self.number[:1].isdigit() else self.number  # "Capstone I"
        m = re.search(r":::\{admonition\} Learning objectives\n:class: tip\n(.*?)\n:::", first_md.source, re.S)
        self.objectives = m.group(1).strip() if m else ""
        if not m:
            problems.append(f"{stem}: no learning objectives block")
        self.headings, self.sections = [], []   # sections[i] = the heading in force at cell i
        current = self.title
        for cell in self.nb.cells:
            if cell.cell_type == "markdown":
                for line in cell.source.split("\n"):
                    if line.startswith("#"):
                        current = line.lstrip("#").strip()
                        self.headings.append(current)
            self.sections.append(current)
        self.exercises = self._exercises()
        self.explorers = self._explorers()

    def _exercises(self):
        """Per solution cell: its section, the checker of the first attempt before it, and the cell after it."""
        out = []
        cells = self.nb.cells
        for i, cell in enumerate(cells):
            if "solution" not in cell.metadata.get("tags", []) or cell.cell_type != "code":
                continue  # (a markdown one is a capstone's written answer, graded by hand with its rubric)
            heading = self.sections[i]
            first = next((j for j in range(i - 1, -1, -1) if cells[j].cell_type == "code"
                          and re.search(r"check_\w+\(", cells[j].source)), None)
            after = next((j for j in range(i + 1, len(cells)) if cells[j].cell_type == "code"
                          and re.search(r"check_\w+\(", cells[j].source)), None)
            if first is not None and self.sections[first] != heading:
                first = None  # a predict, derive, hard or implement exercise shows no first attempt: the checker comes after
            checked = first if first is not None else after
            checker = re.findall(r"(check_\w+)\(", cells[checked].source)[-1] if checked is not None else None
            if checker is None or self.sections[checked] != heading:
                problems.append(f"{self.stem}: solution cell {i} has no checker call in its section")
            out.append(dict(heading=heading, checker=checker, first=cells[first] if first is not None else None,
                            solution=cell, after=cells[after] if after is not None else None))
        return out

    def _explorers(self):
        """(explorer class, section) for every cell that builds an explorer (comments ignored)."""
        found = []
        for i, cell in enumerate(self.nb.cells):
            if cell.cell_type != "code":
                continue
            code_only = "\n".join(line.split("#", 1)[0] for line in cell.source.split("\n"))
            for name in EXPLORERS:
                if re.search(rf"\b{name}\(", code_only):
                    found.append((name, self.sections[i]))
        return found

    def link(self, text=None):
        text = text or self.name
        if self.stem in TOC:
            return f"{{doc}}`{text} <../notebooks/{self.stem}>`"
        return f"{text} (`notebooks/{self.stem}.ipynb`)"

    def sec(self, heading, text=None):
        """A reference to a section: the chapter link and the heading's name, checked to exist."""
        heading = self.heading(heading)
        return f"{self.link(text)}, *{heading}*"

    def heading(self, heading):
        """The chapter's heading that is, or else uniquely contains, `heading`."""
        if heading in self.headings:
            return heading
        matches = [h for h in self.headings if heading in h]
        if len(set(matches)) == 1:
            return matches[0]
        problems.append(f"{self.stem}: no unique section {heading!r} ({matches})")
        return heading

    def exercise_numbers(self):
        """"1.2", "8b.3", ... of the chapter's exercises, in order."""
        found = (re.search(r"Exercise (\d+[a-z]?\.\d+)", e["heading"]) for e in self.exercises)
        return [m.group(1) for m in found if m]


CH = {s: Chapter(s) for s in PRESENT}
WRONG = wrong_answers()


def outputs_text(cell):
    """The stored text outputs of a code cell, joined."""
    if cell is None:
        return ""
    parts = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            parts.append(o.get("text", ""))
        elif "data" in o and "text/plain" in o["data"]:
            parts.append(o["data"]["text/plain"])
        elif o.get("output_type") == "error":
            parts.append(f"{o.get('ename')}: {o.get('evalue')}")
    return "\n".join(p.rstrip("\n") for p in parts)


def verdict(cell, mark):
    """The first stored output line of `cell` that starts with ✔ or ✘, without the mark."""
    lines = [line for line in outputs_text(cell).split("\n") if line.startswith(mark)]
    return lines[0][2:].strip() if lines else ""


# -------------------------------------------------------------------------------------------------
# Hand-written parts

PROSE = ROOT / "scripts" / "instructor_guide"   # the guide's hand-written prose, as markdown


def sections(name, join=True):
    """{heading: text} of the `## heading` sections of scripts/instructor_guide/<name>.md (with `join`, each
    text as one paragraph)."""
    text = re.sub(r"<!--.*?-->", "", (PROSE / f"{name}.md").read_text(encoding="utf-8"), flags=re.S)
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {head.strip(): " ".join(body.split()) if join else body.strip() for head, body in zip(parts[1::2], parts[2::2])}


PREREQUISITES = sections("prerequisites")


REFERENCE = re.compile(r"\[\[(\w+)(?:#([^\]|]+))?(?:\|([^\]]+))?\]\]")   # [[chapter#heading|text]]


def expand(text):
    """The prose with its [[chapter#heading]] references written out (chapter link, *heading*, checked to
    exist) and its [[chapter|text]] links; None where it refers to a chapter missing from _toc.yml."""
    if any(stem not in CH for stem, _, _ in REFERENCE.findall(text)):
        return None
    return REFERENCE.sub(lambda m: CH[m[1]].sec(m[2]) if m[2] else CH[m[1]].link(m[3]), text)


def sessions():
    """The sessions of scripts/instructor_guide/sessions.md: (title, chapters, intro, rows, in-class
    exercises); rows are (minutes, segment, explorer/ask)."""
    out = []
    for title, body in sections("sessions", join=False).items():
        fields = dict(re.findall(r"^(chapters|in class): *(.*)$", body, flags=re.M))
        chapters = [CH[stem] for stem in fields["chapters"].split(", ") if stem in CH]
        paragraphs = [p.strip() for p in re.sub(r"^(chapters|in class):.*$", "", body, flags=re.M).split("\n\n") if p.strip()]
        intro = " ".join(p for p in paragraphs if not p.startswith("|"))
        rows = []
        for line in "\n".join(p for p in paragraphs if p.startswith("|")).splitlines()[2:]:
            t, what, ask = (expand(cell.strip()) for cell in line.strip().strip("|").split("|"))
            if what is not None and ask is not None:
                rows.append((t, what, ask))
        if chapters:
            out.append((title, chapters, intro, rows, [n.strip() for n in fields["in class"].split(",") if n.strip()]))
    return out


def misconceptions():
    """The misconceptions of scripts/instructor_guide/misconceptions.md: (misconception, what is true,
    where: the sections that dispel it)."""
    rows = []
    for wrong, body in sections("misconceptions", join=False).items():
        right, where = body.strip().split("\n\nDispelled in: ")
        refs = [r for r in (expand(ref) for ref in where.strip().split("; ")) if r]
        if refs:
            rows.append((wrong, " ".join(right.split()), refs))
    return rows


# -------------------------------------------------------------------------------------------------
# Writing

def stub_note(ex, fn):
    """What the student edition leaves of the solution, and the checker's real answer to it."""
    body = ast.parse(ex["solution"].source).body
    n_args = len(inspect.signature(fn).parameters) if fn else 1
    if any(isinstance(node, ast.FunctionDef) for node in body):
        def stub(*args, **kwargs):
            raise NotImplementedError(TODO)
        kind = "a stub that keeps the signature and raises `NotImplementedError`"
        args = [stub] * n_args
    elif body and all(isinstance(node, (ast.Assign, ast.AnnAssign)) for node in body):
        kind = "`name = ...` lines"
        args = [...] * n_args
    else:
        return ("The student edition empties the cell (its code is not a top-level function or assignment), "
                "so students write the whole solution there.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            answer = fn(*args)
    except Exception as e:  # a checker that crashes on the stub is itself worth knowing
        problems.append(f"{ex['heading']}: checker raised {type(e).__name__} on the stub")
        return f"The student edition replaces it by {kind}."
    return (f"The student edition replaces it by {kind}, on which the checker answers: "
            f"{'✔' if answer else '✘'} {esc(answer.message)}")


def answer_key(c, ex):
    lines = [f"#### {ex['heading']}", ""]
    checker = ex["checker"]
    fn = getattr(E, checker, None) if checker else None
    module = fn.__module__.replace("attn_course.exercises.", "") if fn else "?"
    exercise = next((e for e in E.EXERCISES if e.name == checker), None)
    if exercise is not None:
        lines += [f"Level: *{exercise.level}*; {exercise.points} point{'s' * (exercise.points != 1)} in the "
                  "grading export (`make grading`).", ""]
    lines += [f"Checker: `{checker}` (`attn_course/exercises/{module}.py`). Its contract:", ""]
    doc = inspect.cleandoc(fn.__doc__ or "") if fn else ""
    lines += ["```text", doc, "```", ""]
    first_src = ex["first"].source if ex["first"] is not None else ""
    first_msg = verdict(ex["first"], "✘") if first_src else ""
    if first_src and not first_msg:
        problems.append(f"{ex['heading']}: the first attempt has no stored ✘ message (is the chapter executed?)")
    if first_src:
        lines += ["The chapter's first attempt, and what the checker answers (the stored output of the cell, "
                  "checked by nbval):", "", "```python", first_src.strip(), "```", ""]
        if first_msg:
            lines += ["> ✘ " + esc(first_msg), ""]
        else:
            out = outputs_text(ex["first"]).strip()
            if out:
                lines += ["```text", out, "```", ""]
    rows, seen = WRONG.get(checker, []), set()
    table = []
    for what, message in rows:
        if message in seen or message == first_msg:
            continue
        seen.add(message)
        table.append(f"| {what} | {esc(message)} |")
    if table:
        lines += [f":::{{dropdown}} {len(table)} more typical wrong answers and the checker's messages", "",
                  f"Each row is a typical mistake listed with the exercise (`mistakes` in the registry, "
                  f"`attn_course.exercises.EXERCISES`), run through `{checker}`; the message is the checker's own.", "",
                  "| wrong answer | the checker says ✘ |", "| --- | --- |", *table, "", ":::", ""]
    ok = verdict(ex["after"], "✔")
    if not ok:
        problems.append(f"{ex['heading']}: no stored ✔ message after the solution (is the chapter executed?)")
    if ok:
        lines += [f"A right answer gets: ✔ {esc(ok)}", ""]
    where = "right after the first attempt" if first_src else "right before the cell that calls the checker"
    lines += [f"**Solution:** the cell tagged `solution` in {c.sec(ex['heading'])}, {where}. On the website it is folded (*Show code cell source*). {stub_note(ex, fn)}", ""]
    return lines


def write():
    """The page: scripts/instructor_guide/page.md, its {name} lines replaced by the parts made here."""
    parts, L = {}, []
    add = L.extend
    # ---------------------------------------------------------------- syllabus
    add(["| session | chapters | homework |", "| --- | --- | --- |"])
    S = []
    for title, chapters, intro, rows, in_class in sessions():
        rest = [n for c in chapters for n in c.exercise_numbers() if n not in in_class]
        homework = (("exercise " if len(rest) == 1 else "exercises ") + ", ".join(rest) + ".") if rest else "none."
        S.append((title, chapters, intro, rows, homework))
    for i, (title, chapters, intro, rows, homework) in enumerate(S, 1):
        add([f"| {i}. {title.split(': ', 1)[1]} | " + ", ".join(c.link(f"{c.number}. {c.short}") for c in chapters)
             + f" | {homework[0].upper() + homework[1:]} |"])
    add([""])
    for title, chapters, intro, rows, homework in S:
        add([f"### {title}", "", intro, "",
             "| min | what (chapter, section) | explorer and what to ask |", "| --- | --- | --- |"])
        for t, what, ask in rows:
            add([f"| {t} | {what} | {ask} |"])
        add(["", f"Homework: {homework}", ""])
    parts["syllabus"], L = L, []
    add = L.extend
    # ---------------------------------------------------------------- chapters
    for stem in PRESENT:
        c = CH[stem]
        add([f"### {c.title}", ""])
        if stem in TOC:
            add([f"The chapter: {c.link(c.title)}.", ""])
        else:
            add([f"The chapter: `notebooks/{stem}.ipynb` (not yet in the book's table of contents).", ""])
        add([f"**Prerequisites.** {PREREQUISITES.get(stem, '')}", "", "**Learning objectives.** After this chapter "
             "a student can", "", c.objectives.split("\n", 1)[1].strip() if c.objectives.startswith("After") else c.objectives, ""])
        if c.explorers:
            seen, items = set(), []
            for name, section in c.explorers:
                key = (name, section)
                if key not in seen:
                    seen.add(key)
                    where = "models." if name == "ExampleExplorer" else "widgets."
                    items.append(f"`{where}{name}` in *{section}*")
            add([f"**Explorers.** " + "; ".join(items) + ".", ""])
        else:
            add(["**Explorers.** None: the chapter's pictures are static.", ""])
        add([f"**Exercises.** " + "; ".join(f"*{e['heading']}*" for e in c.exercises) + ".", ""])
    parts["chapters"], L = L, []
    add = L.extend
    # ---------------------------------------------------------------- misconceptions
    for i, (wrong, right, refs) in enumerate(misconceptions(), 1):
        add([f"{i}. **{wrong}**", "", f"   {right}", "", "   Dispelled in " + "; ".join(refs) + ".", ""])
    parts["misconceptions"], L = L, []
    add = L.extend
    # ---------------------------------------------------------------- answer keys
    for stem in PRESENT:
        c = CH[stem]
        add([f"### {c.name}: {c.short}", ""])
        if not c.exercises:
            add(["No exercises.", ""])
        for ex in c.exercises:
            add(answer_key(c, ex))
    parts["answer_keys"], L = L, []
    add = L.extend
    # ---------------------------------------------------------------- slides, student edition, deployment
    add(["| chapter | slides |", "| --- | --- |"])
    for stem in PRESENT:
        c = CH[stem]
        add([f"| {c.link(f'{c.number}. {c.short}')} | <a href=\"../slides/{stem}.slides.html\">slides</a> |"])
    parts["slides"] = L
    page = re.sub(r"<!--.*?-->\n*", "", (PROSE / "page.md").read_text(encoding="utf-8"), count=1, flags=re.S)
    text = re.sub(r"^\{(\w+)\}$", lambda m: "\n".join(parts[m[1]]).rstrip("\n"), page, flags=re.M)
    return text.rstrip().replace("?*.", "?*") + "\n"   # no "look?." after a heading that asks


def main():
    text = write()
    (ROOT / "book" / "instructor_guide.md").write_text(text, encoding="utf-8")
    print(f"book/instructor_guide.md: {len(text.splitlines())} lines, chapters {', '.join(PRESENT)}")
    for p in problems:
        print("problem:", p)
    return 1 if any("no unique section" in p or "no checker" in p for p in problems) else 0


if __name__ == "__main__":
    sys.exit(main())
