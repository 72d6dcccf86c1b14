"""Write the class-grading export: an nbgrader course with one assignment per chapter.

    python scripts/make_grading.py [--out grading] [chapters...]      (make grading)

nbgrader (https://nbgrader.readthedocs.io) releases, collects, autogrades and returns notebooks on a
JupyterHub; book/class_deployment.md walks through it. This script writes what nbgrader starts from, the
course folder:

    <out>/nbgrader_config.py               the stubs nbgrader leaves (the student edition's), timeouts
    <out>/source/<chapter>/<chapter>.ipynb one assignment per chapter of _toc.yml, outputs cleared

made from the same sources as the book, the registry of exercises (attn_course.exercises.EXERCISES) read
generically:

    solution cells      every cell tagged `solution` is an nbgrader solution cell; its answer is marked
                        with `### BEGIN/END SOLUTION` (function bodies after their docstrings), so the
                        released notebook keeps the signatures and docstrings, as the student edition does
    autograded tests    after the chapter's own checker call, a locked test cell worth the exercise's
                        `points`: `grade(...)` fails with the checker's message when it says ✘
    hidden tests        in the same cell, between `### BEGIN/END HIDDEN TESTS`: `hidden(...)` replays
                        the checker's calls on fresh inputs against the reference (attn_course.exercises
                        .grading); nbgrader removes it from the released notebook and runs it when grading

Then, in <out>: `nbgrader generate_assignment 03_algorithm --create` writes release/, and after the
students submit, `nbgrader autograde 03_algorithm --create` and `nbgrader generate_feedback 03_algorithm`.
"""
import argparse
import ast
import inspect
import sys
from pathlib import Path

import nbformat
from nbconvert.exporters import NotebookExporter
from nbconvert.preprocessors import ClearOutputPreprocessor, Preprocessor

import make_student_edition as student
import toc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from attn_course.exercises import EXERCISES  # noqa: E402
from attn_course.exercises.capstones import RUBRIC  # noqa: E402
from attn_course.exercises.grading import hidden_cases  # noqa: E402

CONFIG = '''"""nbgrader's configuration for the course (written by scripts/make_grading.py)."""
import ast
import re
import textwrap

from nbgrader.converters import GenerateAssignment
from nbgrader.preprocessors import ClearSolutions

c = get_config()  # noqa: F821 - nbgrader defines it
c.CourseDirectory.course_id = "attention-visualized"
c.Execute.timeout = 300  # seconds per cell; every chapter runs in well under a minute

# The released stubs are the student edition's (scripts/make_student_edition.py, copied here): a function
# keeps its signature and docstring and raises TODO, on which the chapter's checker says "not written
# yet"; a region that only assigns names (a prediction, a number worked out by hand) leaves `name = ...`.
TODO = {todo!r}
REGION = re.compile({region!r}, re.M | re.S)
c.ClearSolutions.code_stub = {{"python": TODO}}
c.ClearSolutions.text_stub = "*Your answer here.*"


{region_stub}

class ClearSolutionsAsTheStudentEdition(ClearSolutions):
    """nbgrader's ClearSolutions, each code region replaced by region_stub()."""

    def _replace_solution_region(self, cell, language):
        replaced = 0
        if cell.cell_type == "code":
            cell.source, replaced = REGION.subn(lambda m: region_stub(m.group(1), m.group(2)), cell.source)
        return super()._replace_solution_region(cell, language) or replaced > 0


c.GenerateAssignment.preprocessors = [ClearSolutionsAsTheStudentEdition if p is ClearSolutions else p
                                      for p in GenerateAssignment.class_traits()["preprocessors"].default()]
'''.format(todo=student.TODO, region=student.REGION.pattern, region_stub=inspect.getsource(student.region_stub))


def nbgrader(cell, grade_id, solution=False, points=None, task=False):
    """nbgrader's metadata: a solution cell (`solution`), an autograded test (`points`), a manually graded
    answer (both), or a task graded by hand on the whole notebook (`task`, with `points`)."""
    graded = points is not None and not task
    cell.metadata["nbgrader"] = {"grade": graded, "grade_id": grade_id, "locked": not solution and points is not None,
                                 "solution": solution, "schema_version": 3, **({"points": points} if points else {}),
                                 **({"task": True} if task else {})}
    return cell


def defined_names(source):
    tree = ast.parse(source)
    return ({n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
            | {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)})


class MarkSolutions(Preprocessor):
    """Cells tagged `solution` become nbgrader solution cells, their answers between the markers; a markdown
    one tagged `rubric-<key>` too, graded by hand with the points of that criterion of the capstone's rubric."""

    def preprocess_cell(self, cell, resources, index):
        tags = cell.metadata.get("tags", [])
        if "solution" in tags:
            rubric = [t[len("rubric-"):] for t in tags if t.startswith("rubric-")]
            if cell.cell_type == "code":
                cell.source = student.with_regions(cell.source)
                nbgrader(cell, f"{resources['chapter']}-solution-{index}", solution=True)
            elif rubric:
                criterion = criteria(resources["chapter"])[rubric[0]]
                nbgrader(cell, f"{resources['chapter']}-rubric-{criterion.key}", solution=True, points=criterion.points)
            else:
                nbgrader(cell, f"{resources['chapter']}-solution-{index}", solution=True)
        return cell, resources


def criteria(chapter):
    """The capstone's rubric by key ({} for a chapter without one)."""
    return {c.key: c for c in RUBRIC.get(chapter, ())}


class AddRubricTasks(Preprocessor):
    """Each criterion of the rubric that is not a written answer (the code) becomes a task graded by hand,
    before the summary; and every written criterion must have its answer cell, once."""

    def preprocess(self, nb, resources):
        chapter = resources["chapter"]
        answered = [c.metadata.nbgrader["grade_id"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
                    and c.cell_type == "markdown"]
        written = [f"{chapter}-rubric-{c.key}" for c in RUBRIC.get(chapter, ()) if c.written]
        if sorted(answered) != sorted(written):
            raise ValueError(f"{chapter}: the rubric's written criteria {written} need one answer cell each (a markdown "
                             f"cell tagged solution and rubric-<key>), found {answered}")
        summary = next((i for i, c in enumerate(nb.cells) if c.source.startswith("## Summary")), len(nb.cells))
        for c in reversed([c for c in RUBRIC.get(chapter, ()) if not c.written]):
            text = (f"**Graded by hand ({c.points} points): {c.criterion}.** Full marks when it {c.full_marks}.")
            nb.cells.insert(summary, nbgrader(nbformat.v4.new_markdown_cell(text), f"{chapter}-rubric-{c.key}",
                                              points=c.points, task=True))
        return nb, resources


def test_cell(exercise, cases):
    args = ", ".join(exercise.solution)
    lines = [f"# Autograded: {exercise.name} ({exercise.points} point{'s' * (exercise.points != 1)}). "
             "When the class is graded, hidden tests run here too.",
             "from attn_course.exercises.grading import grade, hidden", "", f'print(grade("{exercise.name}", {args}))']
    if cases:  # (printed, not returned: nbgrader reads a number returned by a test cell as partial credit)
        lines += ["### BEGIN HIDDEN TESTS",
                  f'print("hidden tests:", hidden("{exercise.name}", {args}), "fresh case(s) agree with the reference")',
                  "### END HIDDEN TESTS"]
    return nbgrader(nbformat.v4.new_code_cell("\n".join(lines)), exercise.name, points=exercise.points)


class AddTests(Preprocessor):
    """After each exercise's checker call, the autograded test of the registry's exercise."""

    def preprocess(self, nb, resources):
        chapter = resources["chapter"]
        for exercise in [e for e in EXERCISES if e.chapter == chapter]:
            cells = nb.cells
            at = next((i for i, c in enumerate(cells) if c.cell_type == "code" and "solution" in c.metadata.get("tags", [])
                       and set(exercise.solution) <= defined_names(c.source)), None)
            if at is None:
                raise ValueError(f"{chapter}: no solution cell defines {exercise.solution} for {exercise.name}")
            call = next((j for j in range(at + 1, len(cells)) if cells[j].cell_type == "code"
                         and f"{exercise.name}(" in cells[j].source), at)
            cells.insert(call + 1, test_cell(exercise, hidden_cases(exercise.name)))
        return nb, resources


PREPROCESSORS = [MarkSolutions, AddTests, AddRubricTasks, ClearOutputPreprocessor, student.ClearWidgetState]


def source_notebook(path):
    """The nbgrader source of one chapter."""
    text, _ = NotebookExporter(preprocessors=PREPROCESSORS).from_notebook_node(
        nbformat.read(path, as_version=4), resources={"chapter": Path(path).stem})
    return nbformat.reads(text, as_version=4)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "grading")
    parser.add_argument("chapters", nargs="*", type=Path)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "nbgrader_config.py").write_text(CONFIG)
    for path in args.chapters or toc.chapters():
        nb = source_notebook(path)
        target = args.out / "source" / path.stem / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        graded = [c for c in nb.cells if "points" in c.metadata.get("nbgrader", {})]
        auto = [c.metadata.nbgrader["points"] for c in graded if c.cell_type == "code"]
        manual = [c.metadata.nbgrader["points"] for c in graded if c.cell_type == "markdown"]
        print(f"{target}: {len(auto)} autograded test(s), {sum(auto)} point(s), "
              f"{sum('HIDDEN' in c.source for c in nb.cells)} with hidden tests"
              + (f"; {len(manual)} part(s) graded by hand, {sum(manual)} point(s)" if manual else ""))


if __name__ == "__main__":
    sys.exit(main())
