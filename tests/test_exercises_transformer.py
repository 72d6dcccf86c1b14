"""The Transformer chapters' checkers (6b, 6c) on what the registry's typical mistakes do not cover: right answers
in other forms, answers that raise or return the wrong thing, and a causal mask checked inside a model. The
wrong answers students write are in the registry (attn_course/exercises/transformer.py) and run by
tests/test_exercise_contract.py."""
import numpy as np
import pytest

from attn_course.exercises import (Feedback, check_causal_mask, check_induction_scores, check_perplexity,
                                   check_positional_encoding, check_reversal_alignment, check_transformer_masks)


def _wrong(feedback, says):
    assert isinstance(feedback, Feedback) and not feedback, feedback
    assert says in feedback.message, feedback.message
    assert repr(feedback).startswith("✘")


def _right(feedback, says=""):
    assert isinstance(feedback, Feedback) and feedback, feedback
    assert says in feedback.message and repr(feedback).startswith("✔")


# ---------------------------------------------------------------------------------------------------
# Reversal alignment

def test_reversal_alignment():
    _right(check_reversal_alignment(lambda n: np.eye(n, dtype=bool)[::-1]), "anti-diagonal")
    _right(check_reversal_alignment(lambda n: np.arange(n)[:, None] + np.arange(n)[None, :] == n - 1))


def test_reversal_alignment_reports_a_raising_answer():
    _wrong(check_reversal_alignment(lambda n: 1 / 0), "raised ZeroDivisionError")


# ---------------------------------------------------------------------------------------------------
# Positional encoding

def pe_right(n, d):
    pos = np.arange(n)[:, None]
    angles = pos / 10000 ** (np.arange(0, d, 2) / d)
    pe = np.zeros((n, d))
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles[:, :d // 2])
    return pe


def pe_even_only(n, d):
    angles = np.arange(n)[:, None] / 10000 ** (np.arange(0, d, 2) / d)
    return np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(n, d)


def test_positional_encoding_right_answers():
    _right(check_positional_encoding(pe_right), "any d_model")
    _right(check_positional_encoding(pe_even_only), "Going further")
    import attn_course as ac
    _right(check_positional_encoding(ac.sinusoidal_encoding), "any d_model")


def test_positional_encoding_names_a_wrong_width():
    _wrong(check_positional_encoding(lambda n, d: pe_right(n, d)[:, :-1]), "expected (n_positions, d_model) = (12, 16)")


# ---------------------------------------------------------------------------------------------------
# The three masks of an encoder–decoder

def masks_right(source_lengths, target_lengths, n_source, n_target):
    s, t = np.asarray(source_lengths)[:, None, None], np.asarray(target_lengths)[:, None, None]
    j_s, j_t, i_t = np.arange(n_source), np.arange(n_target), np.arange(n_target)[:, None]
    encoder = np.broadcast_to(j_s < s, (len(s), n_source, n_source))
    decoder = (j_t < t) & (j_t <= i_t)
    cross = np.broadcast_to(j_s < s, (len(s), n_target, n_source))
    return encoder, decoder, cross


def test_transformer_masks_right():
    _right(check_transformer_masks(masks_right), "the future hidden in the decoder only")


def test_transformer_masks_wrong_container():
    _wrong(check_transformer_masks(lambda *a: masks_right(*a)[:2]), "expected three masks")


# ---------------------------------------------------------------------------------------------------
# The causal mask, checked inside a GPT

def test_causal_mask_right():
    pytest.importorskip("torch")
    _right(check_causal_mask(lambda n: np.tril(np.ones((n, n), dtype=bool))), "exactly as they were")
    from attn_course.nn import causal_mask
    _right(check_causal_mask(causal_mask))


def test_causal_mask_behaviour_is_checked_inside_a_model(monkeypatch):
    """A mask that passes the static comparison but leaks when used: the model check must catch it."""
    pytest.importorskip("torch")
    from attn_course.exercises import transformer as checkers

    calls = []

    def leaky(n):  # right for the small sizes the static check tries, open to the future inside the model
        calls.append(n)
        return np.tril(np.ones((n, n), dtype=bool)) if n < 8 else np.ones((n, n), dtype=bool)

    _wrong(check_causal_mask(leaky), "the model can read the future")
    assert 8 in calls and checkers


# ---------------------------------------------------------------------------------------------------
# Perplexity

def _log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def ppl_right(logits, targets):
    return np.exp(-_log_softmax(logits)[np.arange(len(targets)), targets].mean())


def test_perplexity_right():
    _right(check_perplexity(ppl_right), "stable")


def test_perplexity_names_a_wrong_value():
    _wrong(check_perplexity(lambda l, t: 3.0), "expected")


# ---------------------------------------------------------------------------------------------------
# Induction scores

def induction_right(weights, period):
    t = np.arange(period, 2 * period)
    return weights[..., t, t - period + 1].mean(axis=-1)


def test_induction_scores_right():
    _right(check_induction_scores(induction_right), "the token after the previous occurrence")
    from attn_course.readout import induction_scores
    _right(check_induction_scores(induction_scores))


def test_induction_scores_names_a_wrong_value():
    _wrong(check_induction_scores(lambda w, p: np.full((2, 3), 0.5)), "differ from each head's mean")
