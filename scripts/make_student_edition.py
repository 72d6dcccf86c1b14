"""Make the student edition: the chapters with their solutions removed and their outputs cleared.

    python scripts/make_student_edition.py [--out student]          (make student)
    python scripts/make_student_edition.py --site-config PATH      (make site-student)

Writes student/notebooks/<chapter>.ipynb for every chapter. What counts as a solution:

    a cell tagged `solution`       each function it defines keeps its signature and docstring and gets
                                   the body `raise NotImplementedError(...)`; each assignment keeps its
                                   name and gets `...`; anything else in the cell goes. A markdown
                                   solution becomes "*Your answer here.*"
    a region inside any cell       the lines between `### BEGIN SOLUTION` and `### END SOLUTION`
                                   (nbgrader's markers) become `raise NotImplementedError(...)`,
                                   indented as the first of them, or `name = ...` where the region
                                   only assigns names (region_stub)

Everything else stays, the exercises' checkers included: run on the stub, a checker answers
"calling your function raised NotImplementedError ...", and on the student's answer it says what is
wrong or ✔. Outputs, execution counts and saved widget state are cleared, so a student sees each
result first when they compute it.

Each transformation is an nbconvert preprocessor (`StubSolutionCells`, `ClearSolutionRegions`,
`ClearWidgetState`, and nbconvert's own `ClearOutputPreprocessor`), run by nbconvert's NotebookExporter:
the same classes plug into any nbconvert pipeline (`jupyter nbconvert --to notebook
--NotebookExporter.preprocessors=...`), nbgrader's included.

--site-config writes the configuration of the student site (a _config.yml and a _toc.yml): a site built
with it (`make site-student`) has launch buttons (Colab, Binder, JupyterHub) that open the student
edition, once it is published on that branch (book/class_deployment.md), leaves the solution cells out
of its pages and has no instructor guide.
"""
import argparse
import ast
import re
import sys
import textwrap
from pathlib import Path

import nbformat
import yaml
from nbconvert.exporters import NotebookExporter
from nbconvert.preprocessors import ClearOutputPreprocessor, Preprocessor

import toc

ROOT = Path(__file__).resolve().parents[1]
TODO = "raise NotImplementedError(\"exercise: write your solution here, then run the checker below\")"
REGION = re.compile(r"^([ \t]*)### BEGIN SOLUTION[ \t]*\n(.*?)^[ \t]*### END SOLUTION[ \t]*$", re.M | re.S)


def stub(source):
    """The student's starting point for a solution cell: signatures and names kept, the answer gone."""
    lines = source.splitlines()
    return "\n".join(["# Exercise: complete this cell, then run the checker below."] + _stub_block(ast.parse(source).body, lines))


def _stub_block(body, lines):
    """Stub lines for the statements `body` (at any depth: an `if` keeps its test and gets its body stubbed)."""
    out = []
    for node in body:
        indent = re.match(r"\s*", lines[node.lineno - 1]).group(0)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0]
            out += lines[_first_line(node) - 1:_comments_above(lines, node, first.lineno) - 1]  # decorators, signature
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                out += lines[first.lineno - 1:first.end_lineno]  # the docstring says what to write: keep it
            out.append(re.match(r"\s*", lines[first.lineno - 1]).group(0) + TODO)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            out.append(indent + " = ".join(ast.unparse(t) for t in targets) + " = ...  # your answer")
        elif isinstance(node, ast.If):  # e.g. `if HAVE_TRITON:` around a kernel: keep the condition
            inner = _stub_block(node.body, lines)
            if inner:
                out += lines[node.lineno - 1:_first_line(node.body[0]) - 1] + inner
    return out


def _comments_above(lines, function, lineno):
    """The first line of the comments right above line `lineno` of `function`'s body (`lineno` if none):
    a comment between the signature and the first statement is part of the answer, often its derivation."""
    while lineno - 1 > function.lineno and lines[lineno - 2].lstrip().startswith("#"):
        lineno -= 1
    return lineno


def _first_line(node):
    """The line a statement starts on: its first decorator's, for a decorated function."""
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])


def with_regions(source):
    """The solution cell with its answer between `### BEGIN SOLUTION` and `### END SOLUTION` (nbgrader's
    markers): each function's body after its docstring, and every other statement, so that clearing the
    regions leaves what stub() leaves of the functions: signatures, decorators, docstrings, `if` tests."""
    lines = source.splitlines()
    answer = set()   # line numbers (1-based) that are the answer

    def walk(body):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = node.body[0]
                has_doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)
                start = first.end_lineno + 1 if has_doc else _comments_above(lines, node, first.lineno)
                end = node.end_lineno   # and the comments indented under the body, after its last line
                while end < len(lines) and (not lines[end].strip() or lines[end].lstrip().startswith("#") and
                                            len(_indent_of_next(lines, end + 1)) > node.col_offset):
                    end += 1
                if not (has_doc and len(node.body) == 1):  # a docstring only: nothing to hide
                    answer.update(range(start, end + 1))
            elif isinstance(node, ast.If) and any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) for n in node.body):
                walk(node.body)
                answer.update(range(node.body[-1].end_lineno + 1, node.end_lineno + 1))  # an `else:` goes
            else:
                answer.update(range(_first_line(node), node.end_lineno + 1))

    walk(ast.parse(source).body)
    out, inside = [], None
    for i, line in enumerate(lines, 1):
        if inside is not None and i in answer and line.strip() and not line.startswith(inside):  # back out a level
            out.append(inside + "### END SOLUTION")
            inside = None
        if i in answer and inside is None:
            inside = re.match(r"\s*", line).group(0) if line.strip() else _indent_of_next(lines, i)
            out.append(inside + "### BEGIN SOLUTION")
        elif i not in answer and inside is not None and line.strip():
            out.append(inside + "### END SOLUTION")
            inside = None
        out.append(line)
    if inside is not None:
        out.append(inside + "### END SOLUTION")
    return "\n".join(out)


def _indent_of_next(lines, i):
    return next((re.match(r"\s*", line).group(0) for line in lines[i - 1:] if line.strip()), "")


def region_stub(indent, answer):
    """What a solution region becomes: `name = ...  # your answer` for each name that a top-level region of
    assignments only gives a value (a prediction, a number worked out by hand), as stub() leaves them;
    otherwise (a function's body) the TODO line, indented as the region. make_grading.py hands nbgrader
    this same function."""
    try:
        body = ast.parse(textwrap.dedent(answer)).body if not indent else []
    except SyntaxError:
        body = []
    if body and all(isinstance(n, (ast.Assign, ast.AnnAssign)) for n in body):
        return "\n".join(indent + " = ".join(ast.unparse(t) for t in (n.targets if isinstance(n, ast.Assign) else [n.target]))
                         + " = ...  # your answer" for n in body)
    return indent + TODO


def without_regions(source):
    return REGION.sub(lambda m: region_stub(m.group(1), m.group(2)), source)


class StubSolutionCells(Preprocessor):
    """A cell tagged `solution` becomes its stub (code) or "*Your answer here.*" (markdown), and loses the
    tags that fold it on the website."""

    def preprocess_cell(self, cell, resources, index):
        tags = cell.metadata.get("tags", [])
        if "solution" in tags:
            cell.source = stub(cell.source) if cell.cell_type == "code" else "*Your answer here.*"
            cell.metadata["tags"] = [t for t in tags if t not in ("solution", "hide-input")]
        return cell, resources


class ClearSolutionRegions(Preprocessor):
    """Every region between `### BEGIN SOLUTION` and `### END SOLUTION` becomes the TODO line."""

    def preprocess_cell(self, cell, resources, index):
        cell.source = without_regions(cell.source)
        return cell, resources


class ClearWidgetState(Preprocessor):
    """The saved widget state goes with the outputs that showed it."""

    def preprocess(self, nb, resources):
        nb.metadata.pop("widgets", None)
        return nb, resources


PREPROCESSORS = [StubSolutionCells, ClearSolutionRegions, ClearOutputPreprocessor, ClearWidgetState]


def student_notebook(nb):
    """A copy of `nb` with every solution replaced and every output cleared."""
    text, _ = NotebookExporter(preprocessors=PREPROCESSORS).from_notebook_node(nbformat.from_dict(nb))
    return nbformat.reads(text, as_version=4)


STUDENT_BRANCH = "student"


def write_site_config(path):
    """_config.yml for the student site, and its _toc.yml beside it: the launch buttons on the student
    branch, the solution cells left out of the pages (book/_ext/student_edition.py), no instructor guide."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["repository"]["branch"] = STUDENT_BRANCH
    config["sphinx"]["config"]["hide_solutions"] = True
    config["exclude_patterns"] = config["exclude_patterns"] + ["book/instructor_guide.md"]
    # Jupyter Book resolves these against the folder of the configuration file: point them back here.
    config["sphinx"]["local_extensions"] = {k: str(ROOT / v) for k, v in config["sphinx"]["local_extensions"].items()}
    config["bibtex_bibfiles"] = [str(ROOT / f) for f in config["bibtex_bibfiles"]]
    config["html"]["favicon"] = str(ROOT / config["html"]["favicon"])
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    for part in toc["parts"]:
        part["chapters"] = [c for c in part["chapters"] if c["file"] != "book/instructor_guide"]
    (Path(path).parent / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    print(f"{path}: launch buttons on the branch {STUDENT_BRANCH!r}, solutions and instructor guide left out")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "student")
    parser.add_argument("--site-config", type=Path, help="write a _config.yml for the student site and stop")
    parser.add_argument("chapters", nargs="*", type=Path)
    args = parser.parse_args(argv)
    if args.site_config:
        return write_site_config(args.site_config)
    chapters = args.chapters or toc.chapters()
    (args.out / "notebooks").mkdir(parents=True, exist_ok=True)
    for path in chapters:
        nb = nbformat.read(path, as_version=4)
        n_solutions = sum("solution" in c.metadata.get("tags", []) or bool(REGION.search(c.source)) for c in nb.cells)
        nbformat.write(student_notebook(nb), args.out / "notebooks" / path.name)
        print(f"{(args.out / 'notebooks' / path.name)}: {n_solutions} solution(s) removed")


if __name__ == "__main__":
    sys.exit(main())
