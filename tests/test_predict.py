"""The verdict of a multiple-choice predict exercise (attn_course/exercises/predict.py)."""
from attn_course.exercises.feedback import NOT_WRITTEN
from attn_course.exercises.predict import check_choice

CHOICES = {"up": "it cannot go up, because ...", "flat": "the shift is the same for every key", "down": "it cannot go down"}


def verdict(prediction):
    return check_choice(prediction, CHOICES, "flat", "both weights 0.5")


def test_the_right_choice_passes_with_why_and_the_measurement():
    feedback = verdict("flat")
    assert feedback and repr(feedback) == "✔ right: the shift is the same for every key (both weights 0.5)"


def test_case_and_spaces_do_not_matter():
    assert verdict(" Flat ")


def test_a_wrong_choice_says_why_it_is_wrong_and_the_hints_end_with_the_answer():
    feedback = verdict("up")
    assert not feedback and feedback.message == "'up' is not what happens: it cannot go up, because ..."
    assert "flat" not in feedback.message
    assert feedback.hints[0] == "measured: both weights 0.5"
    assert feedback.hints[-1].startswith("the answer is 'flat'")


def test_the_student_stub_is_not_written():
    feedback = verdict(...)
    assert not feedback and NOT_WRITTEN in feedback.message


def test_an_answer_that_is_not_a_choice_names_the_choices():
    for wrong in ("sideways", 3, None, ["flat"]):
        feedback = verdict(wrong)
        assert not feedback and feedback.message.startswith("a prediction is one of 'up', 'flat', 'down'; got ")
