"""The verdict on a *predict* exercise: the learner writes down a choice before the chapter shows the
answer, and the checker says whether it was right and why, with the number it measured.

Every chapter's predict exercise is a multiple choice: `choices` maps each choice to the reason it is
right or wrong, in words a learner can check against the cell that follows.
"""
from .feedback import Feedback, not_written


def check_choice(prediction, choices, answer, measured):
    """Feedback on `prediction`, one of the keys of `choices`.

    choices: {choice: reason}, the reason why that choice is right (for `answer`) or wrong (for the others)
    answer: the right choice   measured: what the checker computed, a sentence shown with every verdict
    """
    if prediction is Ellipsis:  # the student edition's `prediction = ...`
        return not_written("this prediction", "the `...` in its cell")
    names = ", ".join(repr(c) for c in choices)
    if not isinstance(prediction, str) or prediction.strip().lower() not in choices:
        return Feedback(False, f"a prediction is one of {names}; got {prediction!r}")
    prediction = prediction.strip().lower()
    if prediction == answer:
        return Feedback(True, f"right: {choices[answer]} ({measured})")
    return Feedback(False, f"{prediction!r} is not what happens: {choices[prediction]}",
                    hints=(f"measured: {measured}",
                           f"the answer is {answer!r}: {choices[answer]}"))
