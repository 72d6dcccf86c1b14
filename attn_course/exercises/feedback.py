"""What every checker returns (a verdict that prints as one line and says what is wrong), and how a
checker calls the learner's function."""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Feedback:
    """Prints as "✔ message" or "✘ message"; truthy only when the answer is right, so
    `assert check_attention(my_attention)` works in a test too."""
    ok: bool
    message: str

    def __bool__(self):
        return self.ok

    def __repr__(self):
        return ("✔ " if self.ok else "✘ ") + self.message


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
        return None, Feedback(False, f"calling your function raised {type(e).__name__}: {e}")


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
        return None, Feedback(False, f"expected a pair {what}, got {type(result).__name__}")
    return pair, None
