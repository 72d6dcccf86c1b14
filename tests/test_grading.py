"""Grading a class with nbgrader (scripts/make_grading.py, attn_course.exercises.grading).

The fast tests check the tests nbgrader will run: every exercise of the registry gets one autograded
cell worth its points, its reference passes the visible and the hidden test, an answer fitted to the
checker's cases fails the hidden one, and every typical mistake of the registry loses the points. The slow
test runs nbgrader itself end to end on one chapter: release, two submissions, autograde, feedback.
"""
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbconvert.exporters import NotebookExporter

from conftest import torch_and_triton

torch_and_triton()  # Triton in its interpreter on a machine without a GPU, before anything imports it

from attn_course.exercises import EXERCISES  # noqa: E402
from attn_course.exercises import grading  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import make_grading  # noqa: E402
import make_student_edition as student  # noqa: E402
from attn_course.exercises import capstones  # noqa: E402
from attn_course.exercises.capstones import RUBRIC  # noqa: E402

IDS = [e.name for e in EXERCISES]
MISTAKES = [(e, m) for e in EXERCISES for m in e.mistakes]


def references(exercise):
    try:
        return exercise.references()
    except ModuleNotFoundError as error:
        pytest.skip(f"the reference of {exercise.name} needs {error.name}")


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_the_reference_passes_the_visible_and_the_hidden_test(exercise):
    answers = references(exercise)
    assert grading.grade(exercise.name, *answers)
    assert grading.hidden(exercise.name, *answers) == grading.hidden_cases(exercise.name)


def test_an_answer_fitted_to_the_checkers_cases_fails_the_hidden_test():
    """A table of the checker's own cases passes the checker, and only the hidden test sees through it."""
    reference = references(grading.exercise("check_attention"))[0]
    table = []

    def recorded(*args):
        table.append((args, reference(*args)))
        return table[-1][1]
    grading.grade("check_attention", recorded)

    def attention(q, k, v):
        for args, result in table:
            if all(np.shape(a) == np.shape(b) and np.array_equal(a, b) for a, b in zip(args, (q, k, v))):
                return result
        return np.zeros((*q.shape[:-1], v.shape[-1]))
    assert grading.grade("check_attention", attention)
    with pytest.raises(AssertionError, match="hidden test: on new inputs .* different result from the reference"):
        grading.hidden("check_attention", attention)


@pytest.mark.parametrize("exercise, mistake", MISTAKES, ids=[f"{e.name}-{i}" for i, (e, _) in enumerate(MISTAKES)])
def test_every_typical_mistake_loses_the_points(exercise, mistake):
    answers = grading.mistake_answers(exercise, mistake)
    with pytest.raises(AssertionError):
        grading.grade(exercise.name, *answers)
        grading.hidden(exercise.name, *answers)


def test_grade_says_what_it_expected():
    with pytest.raises(ValueError, match="no exercise 'check_nothing'.*expected one of check_"):
        grading.grade("check_nothing", None)
    with pytest.raises(TypeError, match="check_split_heads grades 2 answer"):
        grading.grade("check_split_heads", None)


def test_every_exercise_is_autograded_once_with_its_points_and_no_solution_left(tmp_path):
    make_grading.main(["--out", str(tmp_path)])
    graded = {}
    for path in (tmp_path / "source").glob("*/*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader")
            if meta and meta["grade"] and cell.cell_type == "code":  # (markdown ones are graded by hand)
                graded[meta["grade_id"]] = (path.stem, meta["points"], cell.source)
            if meta and meta["solution"] and cell.cell_type == "code":
                # nbgrader's release keeps what the student edition keeps of the functions
                released = student.without_regions(cell.source)
                answer = "\n".join(line for line in cell.source.splitlines() if "### " not in line)
                assert "### BEGIN SOLUTION" in cell.source and released == student.stub(answer).split("\n", 1)[1]
                assert "solution" in cell.metadata["tags"]
            if cell.cell_type == "code":
                assert cell.outputs == []
        assert "widgets" not in nb.metadata
    assert sorted(graded) == sorted(IDS)
    for e in EXERCISES:
        chapter, points, source = graded[e.name]
        assert (chapter, points) == (e.chapter, e.points)
        assert f'print(grade("{e.name}", {", ".join(e.solution)}))' in source
        assert ("### BEGIN HIDDEN TESTS" in source) == (grading.hidden_cases(e.name) > 0)


def test_the_capstones_rubrics_become_cells_graded_by_hand():
    """Each written criterion of a rubric is the chapter's answer cell, manually graded with its points; the
    others are tasks graded on the whole notebook; together they are worth what the rubric says."""
    assert sorted(RUBRIC) == sorted({e.chapter for e in EXERCISES if e.chapter.endswith(tuple(RUBRIC))})
    for chapter, rubric in RUBRIC.items():
        nb = make_grading.source_notebook(ROOT / "notebooks" / f"{chapter}.ipynb")
        by_hand = {c.metadata.nbgrader["grade_id"]: c for c in nb.cells if c.cell_type == "markdown"
                   and "points" in c.metadata.get("nbgrader", {})}
        assert sorted(by_hand) == sorted(f"{chapter}-rubric-{c.key}" for c in rubric)
        for criterion in rubric:
            cell = by_hand[f"{chapter}-rubric-{criterion.key}"]
            meta = cell.metadata.nbgrader
            assert meta["points"] == criterion.points
            if criterion.written:   # an answer the student writes, graded by hand
                assert meta["grade"] and meta["solution"] and not meta["locked"] and "task" not in meta
                assert f"rubric-{criterion.key}" in cell.metadata["tags"] and "model answer" in cell.source
            else:                   # a task: locked, graded by hand on the notebook
                assert meta["task"] and meta["locked"] and not meta["grade"] and not meta["solution"]
                assert criterion.criterion in cell.source and criterion.full_marks in cell.source
        assert sum(c.metadata.nbgrader["points"] for c in by_hand.values()) == sum(c.points for c in rubric)
        assert f"**{sum(c.points for c in rubric)}**" in capstones.rubric_table(chapter)


def test_a_written_criterion_without_its_answer_cell_is_refused():
    nb = nbformat.read(ROOT / "notebooks" / "04c_capstone_layer.ipynb", as_version=4)
    for cell in nb.cells:
        cell.metadata["tags"] = [t for t in cell.metadata.get("tags", []) if t != "rubric-gradient-check"]
    with pytest.raises(ValueError, match=r"04c_capstone_layer-rubric-gradient-check.*need one answer cell each"):
        NotebookExporter(preprocessors=make_grading.PREPROCESSORS).from_notebook_node(
            nb, resources={"chapter": "04c_capstone_layer"})


def test_nbgraders_release_is_the_student_edition(tmp_path):
    """nbgrader's own release, with the course's configuration, leaves each solution cell exactly as the
    student edition does: functions raising TODO, a prediction or a number by hand as `name = ...`
    (chapter 1's weights_by_hand), a written answer as "*Your answer here.*"."""
    pytest.importorskip("nbgrader")
    chapters = ["01_background", "04c_capstone_layer"]
    course = tmp_path / "course"
    make_grading.main(["--out", str(course), *(str(ROOT / "notebooks" / f"{c}.ipynb") for c in chapters)])
    for chapter in chapters:
        nbgrader(course, "generate_assignment", chapter, "--create")
        source = nbformat.read(ROOT / "notebooks" / f"{chapter}.ipynb", as_version=4)
        edition = student.student_notebook(source)
        released = nbformat.read(course / "release" / chapter / f"{chapter}.ipynb", as_version=4)
        answers = [c for c in released.cells if c.metadata.get("nbgrader", {}).get("solution")]
        assert len(answers) == sum("solution" in c.metadata.get("tags", []) for c in source.cells)
        for cell in answers:
            original = next(c for c in source.cells if c.id == cell.id)
            expected = edition.cells[source.cells.index(original)].source
            if cell.cell_type == "code":  # the edition's cell opens with a line saying what to do
                expected = expected.split("\n", 1)[1]
            assert cell.source == expected, f"{chapter}: nbgrader releases {cell.source!r}, the student edition {expected!r}"
    by_hand = nbformat.read(course / "release" / "01_background" / "01_background.ipynb", as_version=4)
    assert any(c.source.startswith("scores_by_hand = ...  # your answer\nweights_by_hand = ...  # your answer")
               for c in by_hand.cells)


CHAPTER = "03_algorithm"
WRONG = "check_attention"   # the wrong submission forgets the 1/sqrt(d_k) of this exercise
WRONG_ANSWER = '''def attention(q, k, v):
    scores = q @ np.swapaxes(k, -1, -2)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = weights / weights.sum(axis=-1, keepdims=True)
    return weights @ v, weights
'''


def nbgrader(course, *args):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=str(ROOT), PYTHONHASHSEED="0", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def submit(course, student_id, answers, name=CHAPTER):
    """The released notebook with each solution cell answered: `answers[grade_id]`, or the chapter's own (a
    written answer of a rubric: the released "*Your answer here.*", left for the grader)."""
    chapter = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    nb = nbformat.read(course / "release" / name / f"{name}.ipynb", as_version=4)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and "-solution-" in meta["grade_id"]:
            cell.source = answers.get(meta["grade_id"], chapter.cells[int(meta["grade_id"].rsplit("-", 1)[1])].source)
        elif meta.get("solution"):
            cell.source = answers.get(meta["grade_id"], cell.source)
    target = course / "submitted" / student_id / name / f"{name}.ipynb"
    target.parent.mkdir(parents=True)
    nbformat.write(nb, target)


@pytest.mark.slow
def test_nbgrader_grades_a_right_and_a_wrong_submission(tmp_path):
    pytest.importorskip("nbgrader")
    from nbgrader.api import Gradebook
    course = tmp_path / "course"
    make_grading.main(["--out", str(course), str(ROOT / "notebooks" / f"{CHAPTER}.ipynb")])
    nbgrader(course, "generate_assignment", CHAPTER, "--create")
    released = nbformat.read(course / "release" / CHAPTER / f"{CHAPTER}.ipynb", as_version=4)
    assert "HIDDEN" not in nbformat.writes(released) and "hidden(" not in nbformat.writes(released)
    wrong_cell = next(c.metadata.nbgrader["grade_id"] for c in released.cells
                      if c.metadata.get("nbgrader", {}).get("solution") and c.source.startswith("def attention("))
    submit(course, "right", {})
    submit(course, "wrong", {wrong_cell: WRONG_ANSWER})
    nbgrader(course, "autograde", CHAPTER, "--create")
    nbgrader(course, "generate_feedback", CHAPTER)
    points = {e.name: e.points for e in EXERCISES if e.chapter == CHAPTER}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert gb.find_submission(CHAPTER, "right").score == sum(points.values())
        assert gb.find_submission(CHAPTER, "wrong").score == sum(points.values()) - points[WRONG]
        lost = gb.find_grade(WRONG, CHAPTER, CHAPTER, "wrong")
        assert lost.auto_score == 0 and lost.max_score == points[WRONG]
    feedback = (course / "feedback" / "wrong" / CHAPTER / f"{CHAPTER}.html").read_text()
    assert "AssertionError" in feedback and WRONG in feedback


@pytest.mark.slow
def test_nbgrader_autogrades_a_capstone_and_leaves_its_rubric_to_the_grader(tmp_path):
    pytest.importorskip("nbgrader")
    from nbgrader.api import Gradebook
    capstone = "04c_capstone_layer"
    course = tmp_path / "course"
    make_grading.main(["--out", str(course), str(ROOT / "notebooks" / f"{capstone}.ipynb")])
    nbgrader(course, "generate_assignment", capstone, "--create")
    submit(course, "right", {f"{capstone}-rubric-weights-picture": "Query 0 sees only key 0."}, capstone)
    nbgrader(course, "autograde", capstone, "--create")
    automated = sum(e.points for e in EXERCISES if e.chapter == capstone)
    by_hand = sum(c.points for c in RUBRIC[capstone])
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        submission = gb.find_submission(capstone, "right")
        assert submission.score == automated and submission.max_score == automated + by_hand
        assert submission.needs_manual_grade
        for criterion in RUBRIC[capstone]:
            grade = gb.find_grade(f"{capstone}-rubric-{criterion.key}", capstone, capstone, "right")
            assert grade.max_score == criterion.points
            if criterion.key == "gradient-check":   # left as released: nbgrader gives an unanswered cell 0 itself
                assert grade.auto_score == 0 and not grade.needs_manual_grade
            else:                                   # answered, or a task: waits for the grader
                assert grade.needs_manual_grade and grade.auto_score is None


def test_nbgraders_regions_leave_what_the_student_edition_leaves():
    """The released stub is the student edition's: a function keeps its signature, decorators and docstring,
    its body (comments above and under it included) between nbgrader's markers; an assignment keeps its name."""
    source = ('@staticmethod\ndef f(a,\n      b):\n    """Return a + b."""\n    c = a + b\n    return c\n'
              '    # or: return b + a\n\nanswer = 42\n\ndef g(x):\n    # the derivation: g = 2 x\n    return 2 * x\n')
    marked = student.with_regions(source)
    assert marked.count("### BEGIN SOLUTION") == 3 and marked.count("### END SOLUTION") == 3
    released = student.without_regions(marked)
    assert released.startswith('@staticmethod\ndef f(a,\n      b):\n    """Return a + b."""\n    ' + student.TODO)
    assert "a + b\n" not in released.replace('"""Return a + b."""', "") and "42" not in released and "b + a" not in released
    assert "answer = ...  # your answer" in released and "derivation" not in released   # an assignment, a comment
    assert released == student.stub(source).split("\n", 1)[1]
    compile(released, "released", "exec")
