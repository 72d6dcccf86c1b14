"""The checkers of the Transformer chapters (6b, 6c) accept right answers and name each typical wrong one."""
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


@pytest.mark.parametrize("fn, says", [
    (lambda n: np.eye(n, dtype=bool), "copying, not reversing"),
    (lambda n: np.arange(n)[:, None] + np.arange(n)[None, :] == n, "off by one"),
    (lambda n: np.eye(n)[::-1], "return booleans"),
    (lambda n: np.eye(n + 1, dtype=bool)[::-1], "has shape (6, 6), expected (5, 5)"),
    (lambda n: np.ones((n, n), dtype=bool), "each row needs one True"),
    (lambda n: np.roll(np.eye(n, dtype=bool)[::-1], 2, axis=1), "not at [i, n - 1 - i]"),
    (lambda n: 1 / 0, "raised ZeroDivisionError"),
])
def test_reversal_alignment_mistakes(fn, says):
    _wrong(check_reversal_alignment(fn), says)


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


def pe_swapped(n, d):
    angles = np.arange(n)[:, None] / 10000 ** (np.arange(0, d, 2) / d)
    return np.stack([np.cos(angles), np.sin(angles)], axis=-1).reshape(n, d)


def pe_from_one(n, d):
    return pe_right(n + 1, d)[1:]


def pe_halves(n, d):
    angles = np.arange(n)[:, None] / 10000 ** (np.arange(0, d, 2) / d)
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)


def pe_per_column(n, d):
    angles = np.arange(n)[:, None] / 10000 ** (np.arange(d) / d)
    return np.where(np.arange(d) % 2 == 0, np.sin(angles), np.cos(angles))


def pe_wrong_base(n, d):
    angles = np.arange(n)[:, None] / 100 ** (np.arange(0, d, 2) / d)
    return np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(n, d)


def test_positional_encoding_right_answers():
    _right(check_positional_encoding(pe_right), "any d_model")
    _right(check_positional_encoding(pe_even_only), "Going further")
    import attn_course as ac
    _right(check_positional_encoding(ac.sinusoidal_encoding), "any d_model")


@pytest.mark.parametrize("fn, says", [
    (pe_swapped, "sine and cosine are swapped"),
    (pe_from_one, "positions start at 1"),
    (pe_halves, "interleave them"),
    (pe_per_column, "use the pair index i, not the column index"),
    (pe_wrong_base, "column 0 is right, the later columns are not"),
    (lambda n, d: pe_right(n, d).T, "is transposed"),
    (lambda n, d: pe_right(n, d)[:, :-1], "expected (n_positions, d_model) = (12, 16)"),
    (lambda n, d: np.zeros((n, d)), "row 0 should be 0, 1, 0, 1"),
])
def test_positional_encoding_mistakes(fn, says):
    _wrong(check_positional_encoding(fn), says)


# ---------------------------------------------------------------------------------------------------
# The three masks of an encoder–decoder

def masks_right(source_lengths, target_lengths, n_source, n_target):
    s, t = np.asarray(source_lengths)[:, None, None], np.asarray(target_lengths)[:, None, None]
    j_s, j_t, i_t = np.arange(n_source), np.arange(n_target), np.arange(n_target)[:, None]
    encoder = np.broadcast_to(j_s < s, (len(s), n_source, n_source))
    decoder = (j_t < t) & (j_t <= i_t)
    cross = np.broadcast_to(j_s < s, (len(s), n_target, n_source))
    return encoder, decoder, cross


def masks_modified(**change):
    def fn(source_lengths, target_lengths, n_source, n_target):
        encoder, decoder, cross = masks_right(source_lengths, target_lengths, n_source, n_target)
        t = np.asarray(target_lengths)[:, None, None]
        j_s, j_t, i_t = np.arange(n_source), np.arange(n_target), np.arange(n_target)[:, None]
        if change.get("no_causal"):
            decoder = np.broadcast_to(j_t < t, decoder.shape)
        if change.get("strict"):
            decoder = (j_t < t) & (j_t < i_t)
        if change.get("no_decoder_padding"):
            decoder = np.broadcast_to(j_t <= i_t, decoder.shape)
        if change.get("cross_causal"):
            cross = cross & (j_s <= i_t)
        if change.get("cross_by_target"):
            cross = np.broadcast_to(j_s < t, cross.shape)
        if change.get("cross_transposed"):
            cross = np.swapaxes(cross, 1, 2)
        if change.get("encoder_rows"):
            encoder = np.swapaxes(encoder, 1, 2)
        if change.get("no_padding"):
            encoder = np.ones_like(encoder)
        if change.get("cross_all"):
            cross = np.ones_like(cross)
        if change.get("inverted"):
            encoder, decoder, cross = ~encoder, ~decoder, ~cross
        if change.get("ints"):
            decoder = decoder.astype(int)
        return encoder, decoder, cross
    return fn


def test_transformer_masks_right():
    _right(check_transformer_masks(masks_right), "the future hidden in the decoder only")


@pytest.mark.parametrize("change, says", [
    ("no_causal", "has no causal part"),
    ("strict", "hides the diagonal"),
    ("no_decoder_padding", "ignores the target's padding"),
    ("cross_causal", "the cross mask is causal"),
    ("cross_by_target", "uses the TARGET lengths"),
    ("cross_transposed", "(batch, n_target, n_source)"),
    ("encoder_rows", "hides padded QUERIES"),
    ("no_padding", "lets every query attend to the padding"),
    ("cross_all", "attend to the source's padding"),
    ("inverted", "every mask is inverted"),
    ("ints", "return booleans"),
])
def test_transformer_masks_mistakes(change, says):
    _wrong(check_transformer_masks(masks_modified(**{change: True})), says)


def test_transformer_masks_wrong_container():
    _wrong(check_transformer_masks(lambda *a: masks_right(*a)[:2]), "return three masks")


# ---------------------------------------------------------------------------------------------------
# The causal mask, checked inside a GPT

def test_causal_mask_right():
    pytest.importorskip("torch")
    _right(check_causal_mask(lambda n: np.tril(np.ones((n, n), dtype=bool))), "exactly as they were")
    from attn_course.nn import causal_mask
    _right(check_causal_mask(causal_mask))


@pytest.mark.parametrize("fn, says", [
    (lambda n: np.triu(np.ones((n, n), dtype=bool)), "upper triangle"),
    (lambda n: ~np.tril(np.ones((n, n), dtype=bool)), "inverted"),
    (lambda n: np.ones((n, n), dtype=bool), "no mask at all"),
    (lambda n: np.tril(np.ones((n, n), dtype=bool), -1), "the diagonal is hidden"),
    (lambda n: np.tril(np.ones((n, n))), "return booleans"),
    (lambda n: np.tril(np.ones((n, n), dtype=bool), 1), "differs from j <= i"),
    (lambda n: np.ones((n, n + 1), dtype=bool), "expected (4, 4)"),
])
def test_causal_mask_mistakes(fn, says):
    _wrong(check_causal_mask(fn), says)


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


def ppl_naive(logits, targets):
    p = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    return np.exp(-np.log(p[np.arange(len(targets)), targets]).mean())


def test_perplexity_right():
    _right(check_perplexity(ppl_right), "stable")


@pytest.mark.parametrize("fn, says", [
    (lambda l, t: -_log_softmax(l)[np.arange(len(t)), t].mean(), "is its exponential"),
    (lambda l, t: np.exp(-_log_softmax(l)[np.arange(len(t)), t].sum()), "exp of their MEAN"),
    (lambda l, t: np.exp(-l[np.arange(len(t)), t].mean()), "logits as log-probabilities"),
    (lambda l, t: 2 ** (-_log_softmax(l)[np.arange(len(t)), t].mean()), "mixes bases"),
    (lambda l, t: np.exp(-_log_softmax(l.T).T[np.arange(len(t)), t].mean()), "over the vocabulary"),
    (lambda l, t: 1 / np.exp(_log_softmax(l)[np.arange(len(t)), t]).mean(), "averages the LOG-"),
    (lambda l, t: np.ones(len(t)), "return one number"),
    (lambda l, t: 3.0, "expected"),
    (ppl_naive, "exp overflows"),
])
def test_perplexity_mistakes(fn, says):
    with np.errstate(all="ignore"):
        _wrong(check_perplexity(fn), says)


# ---------------------------------------------------------------------------------------------------
# Induction scores

def induction_right(weights, period):
    t = np.arange(period, 2 * period)
    return weights[..., t, t - period + 1].mean(axis=-1)


def induction_shifted(offset, start=None):
    def fn(weights, period):
        t = np.arange(period if start is None else start, 2 * period)
        return weights[..., t, t - period + offset].mean(axis=-1)
    return fn


def test_induction_scores_right():
    _right(check_induction_scores(induction_right), "the token after the previous occurrence")
    from attn_course.readout import induction_scores
    _right(check_induction_scores(induction_scores))


@pytest.mark.parametrize("fn, says", [
    (induction_shifted(0), "duplicate-token"),
    (induction_shifted(2), "off by one"),
    (induction_shifted(1, start=4), "queries run from p - 1"),
    (lambda w, p: w[..., np.arange(p, 2 * p), np.arange(p - 1, 2 * p - 1)].mean(axis=-1), "previous-token head"),
    (lambda w, p: w[..., np.arange(1, p + 1), np.arange(p, 2 * p)].mean(axis=-1), "query and key are swapped"),
    (lambda w, p: induction_right(w, p).T, "is transposed"),
    (lambda w, p: w[..., np.arange(p, 2 * p), np.arange(1, p + 1)], "one score per head"),
    (lambda w, p: np.full((2, 3), 0.5), "expected each head's mean"),
])
def test_induction_scores_mistakes(fn, says):
    _wrong(check_induction_scores(fn), says)
