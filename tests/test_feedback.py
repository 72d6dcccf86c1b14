"""Hints on request: a failing check shows its message alone; hint(), or the same check of the same wrong
answer again, shows one more hint; a different answer starts over; a right answer shows no hint."""
import pytest

from attn_course.exercises import feedback
from attn_course.exercises.feedback import Feedback, checker, hint


@checker
def check_sign(x):
    """A toy checker: x must be positive; a negative x and a zero are two different mistakes."""
    if x < 0:
        return Feedback(False, "x is negative: look at its sign", hints=("which operation flips a sign?", "use -x"))
    if x == 0:
        return Feedback(False, "x is zero", hints=("add one",))
    return Feedback(True, "x is positive")


@checker
def check_other(x):
    return Feedback(False, "always wrong", hints=("a", "b"))


@pytest.fixture(autouse=True)
def no_last_verdict(monkeypatch):
    """Each test starts as a fresh kernel does, with no verdict remembered."""
    monkeypatch.setattr(feedback, "_last", {"check": None, "feedback": None})


def test_the_first_failing_check_shows_the_message_and_no_hint():
    verdict = check_sign(-1)
    assert not verdict and verdict.shown == 0
    assert repr(verdict) == ("✘ x is negative: look at its sign\n"
                            "  (2 more hints: run this check again, or hint() from attn_course.exercises)")


def test_hint_shows_the_hints_one_at_a_time_and_stops_at_the_last():
    check_sign(-1)
    assert repr(hint()).splitlines()[1:] == ["  hint 1/2: which operation flips a sign?",
                                             "  (1 more hint: run this check again, or hint() from "
                                             "attn_course.exercises)"]
    assert repr(hint()).splitlines()[1:] == ["  hint 1/2: which operation flips a sign?", "  hint 2/2: use -x"]
    assert hint().shown == 2  # no hint beyond the last


def test_the_same_wrong_answer_checked_again_shows_the_next_hint():
    assert [check_sign(-1).shown for _ in range(4)] == [0, 1, 2, 2]


def test_hint_and_repeated_checks_share_one_count():
    check_sign(-1)
    hint()
    assert check_sign(-1).shown == 2


def test_a_different_wrong_answer_starts_over():
    check_sign(-1)
    check_sign(-1)
    assert check_sign(0).shown == 0
    assert check_sign(-1).shown == 0


def test_another_checker_with_the_same_message_starts_over():
    check_other(1)
    assert check_other(1).shown == 1
    check_sign(-1)
    assert check_other(1).shown == 0


def test_a_right_answer_ends_the_hints():
    check_sign(-1)
    check_sign(-1)
    verdict = check_sign(1)
    assert verdict and repr(verdict) == "✔ x is positive"
    assert check_sign(-1).shown == 0  # the wrong answer again is a new start


def test_hint_with_nothing_failing_says_so():
    for before in (lambda: None, lambda: check_sign(1)):
        before()
        verdict = hint()
        assert verdict and "no failing check" in verdict.message and "\n" not in repr(verdict)


def test_a_right_verdict_prints_no_hints_even_if_it_has_some():
    assert repr(Feedback(True, "fine", hints=("x",), shown=1)) == "✔ fine"


def test_checker_keeps_the_checkers_name_and_docstring():
    assert check_sign.__name__ == "check_sign" and "toy checker" in check_sign.__doc__
