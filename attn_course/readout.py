"""Reading what a trained model does, from its outputs and attention weights, in NumPy.

    from attn_course import readout             (NumPy only: no torch, no widgets)

The models (attn_course.models, attn_course.transformer) run in PyTorch; attn_course.evaluation runs them
on held-out data and returns NumPy arrays. Everything computed from those arrays is here, so that it can
be read, tested and reused without a model:

    Result, accuracy, carrier_rate     the held-out results of chapter 6's applications
    attention_rollout                  Abnar & Zuidema's (ACL 2020) rollout through the layers
    alignment_accuracy                 does the largest weight fall on a truly aligned key?
    cls_maps                           a ViT's [class] token attention over the patches, raw and rolled out
    rank_agreement                     Spearman correlation between two stacks of maps (attention vs occlusion)
    Probe, induction_scores            induction heads (chapter 6c): the weight on "the token after the last
                                       occurrence of the current one"
    bigram_perplexity                  the baseline a language model must beat
"""
from collections import namedtuple

import numpy as np


Result = namedtuple("Result", "name inputs truth predictions weights alignment")
"""An application's held-out results (attn_course.evaluation.evaluate), as NumPy arrays. name: the application;
inputs: what the model read (ids, images or spectrograms); truth: the right outputs; predictions;
weights: the attention to draw; alignment: the true alignment (bool, like weights) or None."""

Probe = namedtuple("Probe", "tokens weights scores loss_first loss_second")
"""tokens: (n, 2p) the probe sequences; weights: (n, layers, heads, 2p, 2p); scores: (layers, heads) mean
induction score; loss_first, loss_second: mean next-token loss (nats) in the first and second half."""


# ---------------------------------------------------------------------------------------------------
# Attention against the truth

def attention_rollout(weights):
    """Abnar & Zuidema's attention rollout. weights: (..., layers, heads, n, n), one softmax per row.

    Per layer, average the heads and add the residual connection, A = (mean_h W_h + I) / 2 (rows still
    sum to 1); then chain the layers: rollout = A_L @ ... @ A_2 @ A_1. Row i says how much of token
    i's final representation flows from each input token. Returns (..., n, n)."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim < 4 or w.shape[-1] != w.shape[-2]:
        raise ValueError(f"weights must have shape (..., layers, heads, n, n), got {w.shape}")
    a = 0.5 * (w.mean(axis=-3) + np.eye(w.shape[-1]))  # (..., layers, n, n)
    rollout = a[..., 0, :, :]
    for layer in range(1, a.shape[-3]):
        rollout = a[..., layer, :, :] @ rollout
    return rollout


def alignment_accuracy(weights, truth):
    """Share of rows (queries) whose largest weight falls on a truly aligned key.
    weights: (..., n_q, n_k) floats; truth: the same shape, bool."""
    w = np.asarray(weights)
    t = np.asarray(truth)
    if t.dtype != np.bool_ or t.shape != w.shape:
        raise ValueError(f"truth must be a bool array of the shape of weights {w.shape}, got {t.dtype} {t.shape}")
    picked = np.take_along_axis(t, w.argmax(axis=-1)[..., None], axis=-1)[..., 0]
    return float(picked.mean())


# ---------------------------------------------------------------------------------------------------
# The applications' held-out results

def accuracy(result):
    """Share of held-out examples the model gets entirely right (every output token, or the label)."""
    right = result.predictions == result.truth
    return float(right.reshape(len(right), -1).all(axis=1).mean())


def carrier_rate(result):
    """Sentiment: share of the sentences with a sentiment word whose largest attention weight is on one."""
    has = result.alignment.any(axis=1)
    return alignment_accuracy(result.weights[has], result.alignment[has])


def cls_maps(result, i):
    """ViT example i: (raw, rollout), each (4, 4), the [class] token's attention over the 16 patches in
    the last layer (heads averaged) and rolled out through all layers, rescaled to sum to 1."""
    w = result.weights[i]                          # (layers, heads, 17, 17)
    raw = w[-1].mean(axis=0)[0, 1:]
    rolled = attention_rollout(w)[0, 1:]
    grid = int(round(np.sqrt(len(raw))))
    return (raw / raw.sum()).reshape(grid, grid), (rolled / rolled.sum()).reshape(grid, grid)


def rank_agreement(maps, importance):
    """Mean over examples of the Spearman rank correlation between two (n, ...) stacks of maps
    (1: the same order of patches, 0: unrelated, -1: reversed)."""
    from scipy.stats import spearmanr  # scipy comes with scikit-learn

    a, b = np.asarray(maps).reshape(len(maps), -1), np.asarray(importance).reshape(len(importance), -1)
    if a.shape != b.shape:
        raise ValueError(f"maps and importance must have the same shape, got {a.shape} and {b.shape}")
    return float(np.mean([spearmanr(x, y).statistic for x, y in zip(a, b)]))


# ---------------------------------------------------------------------------------------------------
# The language model: induction heads, and the baseline

def induction_scores(weights, period):
    """weights: (..., layers, heads, 2p, 2p) on a sequence of p random tokens repeated once -> (..., layers,
    heads): each head's mean weight, over the queries of the second half, on the key an induction head picks
    (the token after the previous occurrence of the query's token; sequences.induction_targets)."""
    w = np.asarray(weights)
    if w.ndim < 4 or w.shape[-2:] != (2 * period, 2 * period):
        raise ValueError(f"weights must have shape (..., layers, heads, {2 * period}, {2 * period}) for period "
                         f"{period}, got {w.shape}")
    t = np.arange(period, 2 * period)
    return w[..., t, t - period + 1].mean(axis=-1)


def bigram_perplexity(train_ids, test_ids, vocab_size):
    """The perplexity on `test_ids` of a bigram model counted on `train_ids` (add-one smoothing): what
    predicting each token from the one before it alone achieves. A baseline for the language model."""
    train_ids, test_ids = np.asarray(train_ids), np.asarray(test_ids)
    counts = np.ones((vocab_size, vocab_size))                                 # add-one: no zero probability
    np.add.at(counts, (train_ids[:-1], train_ids[1:]), 1)
    p = counts / counts.sum(axis=1, keepdims=True)                             # p[a, b] = P(next = b | a)
    return float(np.exp(-np.log(p[test_ids[:-1], test_ids[1:]]).mean()))
