"""Grading a class: the checkers as autograded tests, and hidden tests that go beyond them.

    grade("check_attention", attention)     the visible test: AssertionError with the checker's message
                                            when the checker rejects the answer
    hidden("check_attention", attention)    the hidden test, run only when the instructor grades: the
                                            answer and the registry's reference are called on fresh
                                            inputs and must agree

The hidden test replays the calls the checker makes, with new random values of the same shapes, dtypes
and structure (rows of probabilities stay rows of probabilities; masks, integers and sizes stay as they
were, except in calls made of integers only, fn(n, heads, batch, dtype), whose sizes grow): an answer written for the checker's cases only (a table of its expected outputs, a branch for the
sizes it tries) passes `grade` and fails `hidden`. The inputs are recorded on the reference, never on the
learner's code, and a case where the reference raises, or does not give the same result twice, is left
out. `hidden_cases(name)` says how many cases an exercise gets; nbgrader's export (scripts/make_grading.py)
adds a hidden test only to exercises with at least one.
"""
import functools

import linecache
import os
import sys

import numpy as np

from .feedback import Feedback

CASES = 4      # fresh cases per exercise, at most
SEED = 20250   # the hidden cases are the same for every student


def exercise(name):
    """The registry's Exercise whose checker is called `name`."""
    from . import EXERCISES
    for e in EXERCISES:
        if e.name == name:
            return e
    raise ValueError(f"no exercise {name!r} in attn_course.exercises.EXERCISES; expected one of "
                     f"{', '.join(e.name for e in EXERCISES)}")


def grade(name, *answers):
    """The checker's verdict on `answers`; AssertionError with its message when it rejects them."""
    e = exercise(name)
    if len(answers) != len(e.solution):
        raise TypeError(f"{name} grades {len(e.solution)} answer(s) ({', '.join(e.solution)}), got {len(answers)}")
    feedback = e.checker(*answers)
    if not feedback:
        raise AssertionError(f"{name}: {feedback.message}")
    return feedback


def chapter_names():
    """The names a chapter's exercise cells can use without importing them: NumPy as `np`, PyTorch as `torch`
    and Triton as `triton`, `tl` where they are installed (HAVE_TRITON says whether Triton is). Triton is
    imported as chapter 8b imports it: on a machine without a GPU, in its interpreter (TRITON_INTERPRET=1,
    which Triton reads at its first import; if it was imported already, it stays as it is)."""
    names = {"np": np, "torch": None, "triton": None, "tl": None, "HAVE_TRITON": False}
    try:
        import torch
    except ImportError:
        return names
    names["torch"] = torch
    if not torch.cuda.is_available() and "triton" not in sys.modules:
        os.environ["TRITON_INTERPRET"] = "1"
    try:
        import triton
        import triton.language as tl
    except ImportError:
        return names
    names.update(triton=triton, tl=tl, HAVE_TRITON=True)
    return names


def mistake_answers(exercise, mistake):
    """The answers a registry Mistake defines: its code run as a chapter cell (with chapter_names()), then the
    exercise's solution names read back. The code is given a file name that linecache knows, as IPython gives
    a cell, because triton.jit reads a kernel's source from its file."""
    filename = f"<mistake of {exercise.name} {exercise.mistakes.index(mistake)}>"
    linecache.cache[filename] = (len(mistake.code), None, mistake.code.splitlines(True), filename)
    namespace = chapter_names()
    exec(compile(mistake.code, filename, "exec"), namespace)
    return tuple(namespace[name] for name in exercise.solution)


def hidden(name, *answers):
    """Compare each callable answer with the reference on fresh inputs; AssertionError on the first
    disagreement. Returns how many cases were compared."""
    e = exercise(name)
    compared = 0
    for i, args, kwargs, expected in _cases(e):
        answer = answers[i]
        try:
            with np.errstate(all="ignore"):
                got = answer(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - the learner's bug, reported as the test's failure
            raise AssertionError(f"{name}, hidden test: on new inputs {_shapes(args)} `{_name(answer)}` raised "
                                 f"{type(error).__name__}: {error}") from None
        if not _same(got, expected):
            raise AssertionError(f"{name}, hidden test: on new inputs {_shapes(args)} `{_name(answer)}` gives a "
                                 "different result from the reference, although it passes the checker's cases")
        compared += 1
    return compared


def hidden_cases(name):
    """How many fresh cases `hidden` compares for the exercise `name` (0: the answer is not a function
    the checker calls, or its results cannot be compared)."""
    return len(_cases(exercise(name)))


@functools.lru_cache(maxsize=None)
def _cases(e):
    """[(answer index, fresh args, fresh kwargs, the reference's result)], recorded on the reference."""
    references = e.references()
    calls = []

    def spy(i, fn):
        @functools.wraps(fn)
        def recorded(*args, **kwargs):
            calls.append((i, args, kwargs))
            return fn(*args, **kwargs)
        return recorded

    spies = [spy(i, r) if callable(r) and not isinstance(r, type) else r for i, r in enumerate(references)]
    feedback = e.checker(*spies)
    if not isinstance(feedback, Feedback) or not feedback:
        raise AssertionError(f"{e.name} rejects its reference: {feedback!r}")
    rng = np.random.default_rng(SEED)
    cases, seen = [], set()
    for i, args, kwargs in calls:
        key = (i, _shapes(args), _shapes(kwargs))
        if key in seen:
            continue
        seen.add(key)
        sizes_only = not _has_floats((args, kwargs))  # e.g. fn(n, heads, batch, dtype): new sizes instead
        args, kwargs = _fresh(args, rng, sizes_only), _fresh(kwargs, rng, sizes_only)
        try:
            with np.errstate(all="ignore"):
                first, second = references[i](*args, **kwargs), references[i](*args, **kwargs)
        except Exception:  # noqa: BLE001 - inputs the reference itself refuses are not a fair test
            continue
        if _same(first, second) and _same(first, first):  # deterministic and comparable
            cases.append((i, args, kwargs, first))
        if len(cases) == CASES:
            break
    return cases


def _has_floats(x):
    if isinstance(x, (tuple, list)):
        return any(_has_floats(v) for v in x)
    if isinstance(x, dict):
        return any(_has_floats(v) for v in x.values())
    if type(x).__module__ == "torch" and type(x).__name__ == "Tensor":
        return x.is_floating_point()
    return isinstance(x, (float, np.floating)) or isinstance(x, np.ndarray) and x.dtype.kind == "f"


def _fresh(x, rng, sizes=False):
    """`x` with new random floats: same shapes, dtypes, signs, zeros and row sums of probabilities. With
    `sizes` (inputs that are all integers), each integer from 2 up grows by an even amount instead: the
    same parity, and no size smaller than one the checker tried."""
    if isinstance(x, tuple):
        return tuple(_fresh(v, rng, sizes) for v in x)
    if isinstance(x, list):
        return [_fresh(v, rng, sizes) for v in x]
    if isinstance(x, dict):
        return {k: _fresh(v, rng, sizes) for k, v in x.items()}
    if sizes and isinstance(x, (int, np.integer)) and not isinstance(x, bool) and x >= 2:
        return type(x)(x + 2 * int(rng.integers(1, 4)))
    if type(x).__module__ == "torch" and type(x).__name__ == "Tensor" and x.is_floating_point():
        import torch
        return torch.from_numpy(_fresh(x.detach().cpu().double().numpy(), rng)).to(x.device, x.dtype) \
            .requires_grad_(x.requires_grad)
    if not (isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.size and np.isfinite(x).all()):
        return x  # masks, integers, sizes, modules, functions: the checker's own
    if (x >= 0).all() and np.allclose(x.sum(-1), 1):  # rows of attention weights: new rows, same zeros
        r = rng.random(x.shape) * (x > 0)
        return (r / r.sum(-1, keepdims=True)).astype(x.dtype)
    r = rng.standard_normal(x.shape) * (x.std() or 1.0)
    return (np.abs(r) if (x >= 0).all() else r).astype(x.dtype)


def _numpy(x):
    if type(x).__module__ == "torch" and type(x).__name__ == "Tensor":
        return x.detach().cpu().numpy()
    return x


def _same(a, b):
    """Equal results (floats to a relative 1e-4): tuples, lists and dicts of arrays, tensors and numbers."""
    a, b = _numpy(a), _numpy(b)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (np.ndarray, np.generic, int, float, bool)) and isinstance(b, (np.ndarray, np.generic, int, float, bool)):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            return False
        if a.dtype.kind in "fc" or b.dtype.kind in "fc":
            scale = float(np.nanmax(np.abs(b))) if b.size and not np.isnan(b).all() else 1.0
            return bool(np.allclose(a, b, rtol=1e-4, atol=1e-6 * max(scale, 1.0), equal_nan=True))
        return bool(np.array_equal(a, b))
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - results that do not compare (modules, figures) are left out
        return False


def _shapes(x):
    """A short description of inputs: shapes of arrays, values of small things."""
    x = _numpy(x)
    if isinstance(x, (tuple, list)):
        return "(" + ", ".join(_shapes(v) for v in x) + ")"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k}: {_shapes(v)}" for k, v in x.items()) + "}"
    if isinstance(x, np.ndarray):
        return f"{x.dtype}{list(x.shape)}"
    if isinstance(x, (int, float, str, bool, type(None))):
        return repr(x)
    return type(x).__name__


def _name(fn):
    return getattr(fn, "__name__", "your answer")
