"""The student edition (scripts/make_student_edition.py): no solution survives, every exercise still runs.

The slow test executes every student notebook: each stubbed exercise must make its checker answer ✘ with
a message that names what is missing, and nothing else in the chapter may fail but cells that need an
exercise's answer (they raise the stub's NotImplementedError until the student writes it).
"""
import ast
import json
import os
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import make_student_edition as student  # noqa: E402

CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def solution_cells(nb):
    return [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]


def answer_lines(source):
    """The lines of a solution that ARE the answer: not the signatures, decorators and docstrings of its
    functions, nor the `if` lines around them (the stub keeps those), nor comments or blank lines."""
    kept = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            kept.update(range(student._first_line(node), node.body[0].lineno))
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                kept.update(range(first.lineno, first.end_lineno + 1))
        elif isinstance(node, ast.If):
            kept.update(range(node.lineno, student._first_line(node.body[0])))
    return [line.split("#")[0].strip() for i, line in enumerate(source.splitlines(), 1)
            if i not in kept and line.split("#")[0].strip()]


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    student.main(["--out", str(out)])
    return {p.name: nbformat.read(p, as_version=4) for p in (out / "notebooks").glob("*.ipynb")}


def test_every_chapter_has_exercises_with_solutions():
    for path in CHAPTERS:
        nb = nbformat.read(path, as_version=4)
        assert solution_cells(nb), f"{path.name}: no cell tagged 'solution'"


def code_lines(cells):
    return Counter(line.split("#")[0].strip() for c in cells for line in c.source.splitlines())


def test_no_solution_code_survives(edition):
    """A line of a solution may appear in the student edition only as often as outside the solutions (a
    chapter shows a typical wrong attempt before each exercise, which shares lines with the answer)."""
    for path in CHAPTERS:
        original = nbformat.read(path, as_version=4)
        elsewhere = code_lines(c for c in original.cells if "solution" not in c.metadata.get("tags", []))
        in_student = code_lines(edition[path.name].cells)
        for cell in solution_cells(original):
            if cell.cell_type == "markdown":  # a written answer (a capstone's rubric): none of its lines stays
                text = {line for c in edition[path.name].cells if c.cell_type == "markdown" for line in c.source.splitlines()}
                leaked = [line for line in cell.source.splitlines() if line.strip() and not line.startswith(":") and line in text]
                assert not leaked, f"{path.name}: lines of a written answer left in the student edition: {leaked}"
                continue
            leaked = [line for line in answer_lines(cell.source) if in_student[line] > elsewhere[line]]
            assert not leaked, f"{path.name}: solution lines left in the student edition: {leaked}"


def test_outputs_and_widget_state_are_cleared(edition):
    for name, nb in edition.items():
        assert "widgets" not in nb.metadata, name
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, name


def test_stub_keeps_signature_docstring_and_names():
    source = ('import numpy as np\n\n@staticmethod\ndef f(a,\n      b):\n    """Return a + b."""\n    c = a + b\n'
              '    return c\n\nanswer = 42\nx: int = 3\nprint(answer)\n')
    got = student.stub(source)
    assert '@staticmethod\ndef f(a,\n      b):\n    """Return a + b."""\n    raise NotImplementedError' in got
    assert "answer = ...  # your answer" in got and "x = ...  # your answer" in got
    assert "a + b\n" not in got.replace('"""Return a + b."""', "") and "42" not in got and "print" not in got
    ast.parse(got)  # the stub is valid Python


def test_marked_regions_become_todo_lines():
    source = "def f(x):\n    y = 2\n    ### BEGIN SOLUTION\n    secret = x * y\n    return secret\n    ### END SOLUTION\n"
    got = student.without_regions(source)
    assert "secret" not in got and "    raise NotImplementedError" in got and "y = 2" in got
    ast.parse(got)


@pytest.mark.slow
def test_student_notebooks_run_and_checkers_reject_the_stubs(edition, tmp_path):
    os.environ.update(PYTHONHASHSEED="0", CUDA_VISIBLE_DEVICES="", MPLBACKEND="module://matplotlib_inline.backend_inline")
    for name, nb in sorted(edition.items()):
        NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
        errors = [(i, o.ename, o.evalue) for i, c in enumerate(nb.cells) if c.cell_type == "code"
                  for o in c.outputs if o.output_type == "error"]
        unexpected = [e for e in errors if e[1] != "NotImplementedError"]
        assert not unexpected, f"{name}: cells fail in the student edition: {unexpected}"
        cells = nb.cells
        for i, cell in enumerate(cells):
            if cell.source.startswith("# Exercise: complete this cell"):
                checker = next(c for c in cells[i + 1:] if c.cell_type == "code" and "check_" in c.source)
                said = "".join(o.get("text", "") + json.dumps(o.get("data", {}), ensure_ascii=False) for o in checker.outputs)
                assert "✘" in said, \
                    (f"{name}: the checker after the stub in cell {i} did not report the missing answer: {said[:200]} "
                     "(call the checker in the cell right after the solution, before anything that uses the answer)")


def test_stub_reaches_inside_an_if():
    source = ('if HAVE_TRITON:\n    @triton.jit\n    def kernel(X, BLOCK: tl.constexpr):\n        x = tl.load(X)\n\n'
              '    def softmax(x):\n        return secret(x)\n')
    got = student.stub(source)
    assert "if HAVE_TRITON:\n    @triton.jit\n    def kernel(X, BLOCK: tl.constexpr):\n        raise NotImplementedError" in got
    assert "    def softmax(x):\n        raise NotImplementedError" in got and "secret" not in got and "tl.load" not in got
    ast.parse(got)


def test_the_edition_has_the_chapters_of_the_table_of_contents(edition):
    """One list of chapters (_toc.yml, read by scripts/toc.py): the edition holds exactly those."""
    import toc
    assert sorted(edition) == sorted(path.name for path in toc.chapters())


def test_each_transformation_is_an_nbconvert_preprocessor():
    from nbconvert.preprocessors import Preprocessor
    assert all(issubclass(p, Preprocessor) for p in student.PREPROCESSORS)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("def f(x):\n    return 2 * x", metadata={"tags": ["solution"]})])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="2\n")]
    nb.metadata["widgets"] = {"state": {}}
    got = student.student_notebook(nb)
    assert "2 * x" not in got.cells[0].source and got.cells[0].outputs == [] and "widgets" not in got.metadata
    assert nb.cells[0].source == "def f(x):\n    return 2 * x"  # the chapter itself is left as it was
