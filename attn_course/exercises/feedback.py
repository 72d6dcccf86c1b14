"""What every checker returns (a verdict that says what is wrong, with hints on request), and how a
checker calls the learner's function.

A failing verdict says *what* is wrong and where to look, never the fix. Its `hints` go further, one at a
time, the last one giving the fix: `hint()` shows the next hint of the last failing check, and running the
same checker again on the same wrong answer does the same.
"""
import functools
from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Feedback:
    """Prints as "✔ message" or "✘ message"; truthy only when the answer is right, so
    `assert check_attention(my_attention)` works in a test too."""
    ok: bool
    message: str
    hints: tuple = ()  # further hints, from a nudge to the fix; shown one at a time
    shown: int = 0     # how many of them are shown

    def __bool__(self):
        return self.ok

    def __repr__(self):
        lines = [("✔ " if self.ok else "✘ ") + self.message]
        if self.ok:  # a right answer needs no hint
            return lines[0]
        lines += [f"  hint {i + 1}/{len(self.hints)}: {h}" for i, h in enumerate(self.hints[:self.shown])]
        left = len(self.hints) - self.shown
        if left:
            lines.append(f"  ({left} more hint{'s' if left > 1 else ''}: run this check again, or hint() from "
                         "attn_course.exercises)")
        return "\n".join(lines)


def fail(message, *hints):
    """A failing verdict: `message` says what is wrong and where to look; `hints` escalate, the last is the fix."""
    return Feedback(False, message, hints=hints)


_last = {"check": None, "feedback": None}  # the last verdict, for hint() and for a repeated check


def checker(check):
    """Make `check` (returning a Feedback) remember its verdict: the same wrong answer checked twice in a
    row shows one more hint each time."""
    @functools.wraps(check)
    def checked(*args, **kwargs):
        feedback = check(*args, **kwargs)
        previous = _last["feedback"]
        if (not feedback.ok and _last["check"] == check.__name__ and previous is not None
                and previous.message == feedback.message and previous.hints == feedback.hints):
            feedback = replace(feedback, shown=min(previous.shown + 1, len(feedback.hints)))
        _last.update(check=check.__name__, feedback=feedback)
        return feedback
    return checked


def hint():
    """The last failing verdict again, with one more of its hints shown."""
    feedback = _last["feedback"]
    if feedback is None or feedback.ok:
        return Feedback(True, "no failing check to give a hint for: run a checker first")
    feedback = replace(feedback, shown=min(feedback.shown + 1, len(feedback.hints)))
    _last["feedback"] = feedback
    return feedback


NOT_WRITTEN = "is not written yet"


def not_written(what, todo):
    """The verdict on an exercise still as the student edition hands it out: `todo` is what to replace."""
    return Feedback(False, f"{what} {NOT_WRITTEN}: replace {todo} with your solution, run that cell, then run "
                           "this checker again")


def call(fn, *args, **kwargs):
    """(result, None), or (None, Feedback saying what the learner's function raised)."""
    try:
        with np.errstate(all="ignore"):  # overflow and 0/0 are diagnosed from the result, not printed as warnings
            return fn(*args, **kwargs), None
    except Exception as e:  # the learner's bug, reported as feedback rather than a traceback
        if isinstance(e, NotImplementedError) and _raised_by(fn, e):  # the student edition's stub, untouched
            return None, not_written(f"`{getattr(fn, '__name__', 'your function')}`",
                                     "the line `raise NotImplementedError(...)` in its body")
        return None, Feedback(False, f"calling your function raised {type(e).__name__}: {e}", hints=(
            "run your function by itself on the inputs of the chapter's example: the traceback shows the line "
            "that fails",
            "print the shape of every array on that line: most errors there come from two axes that do not "
            "match"))


def _raised_by(fn, error):
    """Whether `error` was raised in the body of `fn` itself (not by something it called, e.g. a torch
    operation that is not implemented for some input)."""
    tb = error.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code is getattr(fn, "__code__", None)


def as_pair(result):
    """(first, second) as float64 arrays, or None when `result` is not a pair."""
    if not (isinstance(result, tuple) and len(result) == 2):
        return None
    return tuple(np.asarray(r, dtype=np.float64) for r in result)


def call_for_pair(fn, *args, what="(output, weights)"):
    """((first, second) as float64 arrays, None), or (None, Feedback saying what the learner's function
    raised or that it did not return a pair)."""
    result, error = call(fn, *args)
    if error is not None:
        return None, error
    pair = as_pair(result)
    if pair is None:
        return None, Feedback(False, f"expected a pair {what}, got {type(result).__name__}",
                              hints=(f"end your function with `return {what.strip('()')}`",))
    return pair, None
