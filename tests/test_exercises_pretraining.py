"""The checkers of chapter 6d (pretraining: the two families) accept right answers and name each typical wrong one."""
import numpy as np
import pytest

pytest.importorskip("torch")  # check_corrupt's reference lives in attn_course.transformer

from conftest import assert_accepts, assert_rejects
from attn_course import transformer  # noqa: E402
from attn_course.exercises import (check_corrupt, check_corruption_shares, check_who_can_restore,  # noqa: E402
                                   hint, pretraining)


# --- 6d.1: predict ---------------------------------------------------------------------------------------

def test_who_can_restore():
    assert_accepts(check_who_can_restore({"said": "masked", "first echo": "masked", "echo": "both"}), "left context")


@pytest.mark.parametrize("answer, says", [
    ({"said": "neither", "first echo": "masked", "echo": "both"}, "'said': 'neither' is not right"),
    ({"said": "masked", "first echo": "both", "echo": "both"}, "the parrot's first word"),
    ({"said": "masked", "first echo": "masked", "echo": "causal"}, "a later echo word"),
    ({"said": "masked", "first echo": "masked", "echo": "maybe"}, "each answer is one of"),
    ({"said": "masked"}, "expected a dict with the keys"),
    (..., "is not written yet"),
])
def test_who_can_restore_mistakes(answer, says):
    assert_rejects(check_who_can_restore(answer), says)


def test_who_can_restore_hints_escalate():
    wrong = {"said": "neither", "first echo": "masked", "echo": "both"}
    check_who_can_restore(wrong)
    assert check_who_can_restore(wrong).shown == 1
    assert '"masked"' in hint().hints[-1]


# --- 6d.2: derive ----------------------------------------------------------------------------------------

def test_corruption_shares():
    assert_accepts(check_corruption_shares(pretraining.corruption_shares), "12%")


@pytest.mark.parametrize("fn, says", [
    (lambda r: {"picked": r, "mask": 0.8, "random": 0.1, "kept": 0.1}, "shares of the PICKED positions"),
    (lambda r: {"picked": r, "mask": 0.8 * r, "random": 0.1 * r, "kept": 0.2 * r}, "should add up to picked"),
    (lambda r: {"picked": 1.0, "mask": 0.8, "random": 0.1, "kept": 0.1}, "shares of the PICKED positions"),
    (lambda r: {"picked": 2 * r, "mask": 1.6 * r, "random": 0.2 * r, "kept": 0.2 * r}, "picked with probability"),
    (lambda r: {"picked": r, "mask": 0.7 * r, "random": 0.2 * r, "kept": 0.1 * r}, "differ from the expected"),
    (lambda r: {"mask": 0.8 * r}, "expected a dict with the keys"),
    (lambda r: {"picked": "r", "mask": 0, "random": 0, "kept": 0}, "must be a number"),
])
def test_corruption_shares_mistakes(fn, says):
    assert_rejects(check_corruption_shares(fn), says)


# --- 6d.3: implement -------------------------------------------------------------------------------------

def test_corrupt():
    assert_accepts(check_corrupt(transformer.corrupt), "10% kept")


def swapped_fates(ids, picked, fate, random_ids, mask_id):
    inputs = np.where(picked & (fate < 0.1), random_ids, ids)
    inputs = np.where(picked & (fate >= 0.2), mask_id, inputs)
    return inputs, np.where(picked, ids, -100)


@pytest.mark.parametrize("fn, says", [
    (lambda ids, p, f, r, m: (np.where(p, m, ids), np.where(p, ids, -100)), "every picked token became [MASK]"),
    (lambda ids, p, f, r, m: (np.where(f < 0.8, m, ids), np.where(p, ids, -100)), "were NOT picked changed"),
    (swapped_fates, "for some fates"),
    (lambda ids, p, f, r, m: (transformer.corrupt(ids, p, f, r, m)[0],
                              np.where(p, transformer.corrupt(ids, p, f, r, m)[0], -100)), "corrupted inputs"),
    (lambda ids, p, f, r, m: (transformer.corrupt(ids, p, f, r, m)[0], ids), "every position has a target"),
    (lambda ids, p, f, r, m: (transformer.corrupt(ids, p, f, r, m)[0], np.where(p, ids, 0)), "the targets are wrong"),
    (lambda ids, p, f, r, m: ids, "return a pair"),
    (lambda ids, p, f, r, m: (ids[:1], ids), "must have ids' shape"),
])
def test_corrupt_mistakes(fn, says):
    assert_rejects(check_corrupt(fn), says)
