"""The contract every exercise of the registry (attn_course.exercises.EXERCISES) keeps with its chapter.

For each exercise, its checker
  - accepts the registry's reference answer, with a Feedback that prints "✔ ...";
  - rejects the student edition's starting point, the chapter's solution cell stubbed exactly as
    scripts/make_student_edition.py does it, saying that the exercise is not written yet;
  - leaves the learner's global random state (NumPy's, Python's, torch's) as it found it.
And the registry cannot drift from the package or the chapters: every exported checker is in it, and
every chapter calls its checker on the answer the registry names.

Triton runs in its interpreter on the CPU, as in tests/test_exercises_gpu.py: TRITON_INTERPRET=1 is set
before triton is first imported. Exercises that need torch or Triton are skipped, saying so, without them.
"""
import ast
import json
import random
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import torch_and_triton

torch, triton, tl = torch_and_triton()

import attn_course.exercises
from attn_course.exercises import EXERCISES, Feedback
from attn_course.exercises.feedback import NOT_WRITTEN

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import make_student_edition as student  # noqa: E402

IDS = [e.name for e in EXERCISES]

# What the stubs need when they are defined (decorators, annotations, `if` tests), as the chapter's
# earlier cells provide it; the bodies never run past their first line, so nothing else is needed.
CHAPTER_NAMES = {"HAVE_TRITON": triton is not None, "triton": triton, "tl": tl}


def random_states():
    states = {"numpy": np.random.get_state(), "random": random.getstate()}
    if torch is not None:
        states["torch"] = torch.random.get_rng_state()
    return states


def same(a, b):
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if torch is not None and isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    return bool(np.array_equal(a, b))


def verdict(exercise, *answers):
    """The checker's Feedback on `answers`, after checking that it moved no global random state. Skips
    the test where the exercise needs torch or Triton and they are not installed."""
    if exercise.name == "check_softmax_kernel" and triton is None:  # its reference itself needs Triton
        pytest.skip("needs PyTorch and Triton (Triton has wheels for Linux only)")
    before = random_states()
    try:
        feedback = exercise.checker(*answers)
    except ModuleNotFoundError as error:
        if error.name in ("torch", "triton"):
            pytest.skip(f"{exercise.name} needs {error.name}")
        raise
    after = random_states()
    moved = [name for name in before if not same(before[name], after[name])]
    assert not moved, f"{exercise.name} moved the global random state of {moved}: use a local generator"
    assert isinstance(feedback, Feedback), f"{exercise.name} returned {type(feedback).__name__}, not a Feedback"
    return feedback


def solution_cell(exercise):
    """The source of the chapter's solution cell that defines every name of exercise.solution."""
    nb = json.loads((ROOT / "notebooks" / f"{exercise.chapter}.ipynb").read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and "solution" in cell["metadata"].get("tags", []):
            source = "".join(cell["source"])
            defined = {node.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef)}
            defined |= {t.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Assign)
                        for t in node.targets if isinstance(t, ast.Name)}
            if set(exercise.solution) <= defined:
                return source
    raise AssertionError(f"{exercise.chapter}: no solution cell defines {exercise.solution}")


def student_stub(exercise):
    """The answer(s) as the student edition hands them out: the solution cell through the very stub()
    that makes the edition, then run. Built from the chapter, not from the reference's signature, so the
    test follows the chapter if its exercise changes."""
    namespace = dict(CHAPTER_NAMES)
    exec(student.stub(solution_cell(exercise)), namespace)
    return tuple(namespace[name] for name in exercise.solution)


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_checker_accepts_the_reference(exercise):
    try:
        answers = exercise.references()
    except ModuleNotFoundError as error:
        pytest.skip(f"the reference of {exercise.name} needs {error.name}")
    feedback = verdict(exercise, *answers)
    assert feedback and repr(feedback).startswith("✔ "), f"{exercise.name} rejects its reference: {feedback!r}"


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_checker_says_the_student_stub_is_not_written(exercise):
    feedback = verdict(exercise, *student_stub(exercise))
    assert not feedback and repr(feedback).startswith("✘ "), f"{exercise.name} accepts the stub: {feedback!r}"
    assert NOT_WRITTEN in feedback.message and "replace" in feedback.message, \
        f"{exercise.name} does not say that the exercise is not written yet: {feedback!r}"


def test_every_checker_is_in_the_registry_once():
    exported = {name for name in dir(attn_course.exercises) if name.startswith("check_")}
    assert sorted(IDS) == sorted(exported)


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_the_chapter_calls_the_checker_on_its_solution(exercise):
    nb = json.loads((ROOT / "notebooks" / f"{exercise.chapter}.ipynb").read_text())
    call = re.compile(rf"\b{exercise.name}\(\s*" + r"\s*,\s*".join(exercise.solution) + r"\s*\)")
    assert any(call.search("".join(c["source"])) for c in nb["cells"] if c["cell_type"] == "code"), \
        f"{exercise.chapter} never calls {exercise.name}({', '.join(exercise.solution)})"


# Typical mistakes, as the registry lists them: each is a wrong solution cell students really write.

MISTAKES = [(e, i, m) for e in EXERCISES for i, m in enumerate(e.mistakes)]


def wrong_answer(exercise, mistake):
    """The answer(s) a mistake's solution cell defines, run as the chapter would run it."""
    from attn_course.exercises.grading import mistake_answers
    return mistake_answers(exercise, mistake)


@pytest.mark.parametrize("exercise, index, mistake", MISTAKES, ids=[f"{e.name}-{i}" for e, i, _ in MISTAKES])
def test_checker_names_each_typical_mistake_and_hints_at_the_fix(exercise, index, mistake):
    feedback = verdict(exercise, *wrong_answer(exercise, mistake))
    assert not feedback and repr(feedback).startswith("✘ "), f"{exercise.name} accepts mistake {index}: {feedback!r}"
    assert mistake.fragment in feedback.message, \
        f"{exercise.name}, mistake {index}: {mistake.fragment!r} is not in the first message {feedback.message!r}"
    assert feedback.hints, f"{exercise.name}, mistake {index}: no hint for {feedback.message!r}"
    assert feedback.hints[-1] != feedback.message, f"{exercise.name}, mistake {index}: the last hint repeats the message"


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_exercise_has_a_level_and_points(exercise):
    from attn_course.exercises import LEVELS
    assert exercise.level in LEVELS and exercise.points >= 1
    assert hasattr(exercise.checker, "__wrapped__"), f"{exercise.name} is not decorated with @checker"
