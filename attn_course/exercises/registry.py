"""The exercises as data: for each checker, the chapter that asks for the answer, the name the chapter's
solution cell gives it, and the reference answer the checker accepts.

Each topic module lists its own exercises in `EXERCISES`; `attn_course.exercises.EXERCISES` collects
them in chapter order. A reference is written as a dotted name and imported only when asked for, since
some live in modules that import torch or Triton, which `import attn_course.exercises` must not.
"""
import importlib
from dataclasses import dataclass
from typing import Callable, Tuple, Union

Names = Union[str, Tuple[str, ...]]

# The ladder, in the order a chapter climbs it.
LEVELS = ("predict", "implement", "debug", "derive", "hard")


@dataclass(frozen=True)
class Mistake:
    """A wrong answer students really write, as the source of the solution cell, and a fragment the
    checker's first message must contain for it (the contract test runs each one)."""
    code: str       # defines the exercise's solution name(s), e.g. "def attention(q, k, v): ..."; it runs with
                    # `np` defined (every chapter imports numpy as np) and imports anything else itself
    fragment: str   # e.g. "sums to 1 along each column"


@dataclass(frozen=True)
class Exercise:
    """One exercise. `reference` and `solution` name one thing each, or several for a checker that takes
    several (check_split_heads(split_heads, merge_heads)); both are stored as tuples, in the order the
    checker takes them. Later fields (stubs, typical mistakes, points) can be added with defaults."""
    checker: Callable
    reference: Names   # dotted name(s), e.g. "attn_course.attention.scaled_dot_product_attention"
    chapter: str       # the notebook, e.g. "03_algorithm"
    solution: Names    # the name(s) the chapter's solution cell defines, e.g. "attention"
    level: str = "debug"            # one of LEVELS
    points: int = 1                 # for grading a class
    mistakes: Tuple[Mistake, ...] = ()

    def __post_init__(self):
        for field in ("reference", "solution"):
            value = getattr(self, field)
            object.__setattr__(self, field, (value,) if isinstance(value, str) else tuple(value))
        object.__setattr__(self, "mistakes", tuple(self.mistakes))
        if self.level not in LEVELS:
            raise ValueError(f"{self.name}: level must be one of {LEVELS}, got {self.level!r}")
        if len(self.reference) != len(self.solution):
            raise ValueError(f"{self.name}: {len(self.reference)} reference(s) for {len(self.solution)} solution(s)")

    @property
    def name(self):
        return self.checker.__name__

    def references(self):
        """The reference answers, imported now: pass them to the checker as `checker(*references)`."""
        return tuple(_load(name) for name in self.reference)


def _load(dotted):
    module, name = dotted.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)
