"""Checkers for the exercises of the Transformer chapters (6b: the encoder–decoder, 6c: the language model).

    check_reversal_alignment(fn)    fn(n) -> (n, n) bool: which source token each target token of a reversal copies
    check_positional_encoding(fn)   fn(n_positions, d_model) -> the sinusoidal encoding (Vaswani et al., sec. 3.5)
    check_transformer_masks(fn)     fn(source_lengths, target_lengths, n_source, n_target) -> the three masks of an
                                    encoder–decoder for a padded batch
    check_causal_mask(fn)           fn(n) -> (n, n) bool, True = may attend; also run inside a small GPT
    check_perplexity(fn)            fn(logits, targets) -> exp(mean negative log-likelihood)
    check_induction_scores(fn)      fn(weights, period) -> (layers, heads) induction scores
    check_changed_prediction(changed)   predict (6c): how many predictions change when one token changes
    check_ideal_perplexity(fn)      derive (6c): fn(period, vocab_size) -> a perfect copier's perplexity
    check_kv_cache(fn)              hard (6c): fn(model, ids) -> the GPT's logits with a KV cache
    check_cross_shape(shape)        predict (6b): the shape of the cross-attention weights of greedy decoding
    check_decoder_params(fn)        derive (6b): fn(d_model, n_heads, d_ff) -> parameters of a decoder layer
    check_cross_by_hand(fn)         hard (6b): fn(model, source, target_in) -> the first layer's cross-attention

Masks follow the package's convention: True = MAY attend. The references are the package's
sinusoidal_encoding, causal_mask and attn_course.readout.induction_scores (in a module that imports
torch: imported when the checker runs, as check_causal_mask imports torch), and reversal_alignment,
transformer_masks and perplexity, here.
"""
import functools

import numpy as np

from ..attention import causal_mask
from ..positional import sinusoidal_encoding
from .feedback import Feedback, call, checker, fail, not_written
from .registry import Exercise, Mistake


def _bool_matrix(result, shape, what):
    """(array, None) when `result` is a bool array of `shape`, else (None, Feedback saying what is off)."""
    if hasattr(result, "detach"):  # a torch tensor is fine too
        result = result.detach().cpu().numpy()
    a = np.asarray(result)
    if a.shape != shape:
        return None, fail(f"{what} has shape {a.shape}, expected {shape}: look at the sizes of your index ranges",
                          "one row per query, one column per key")
    if a.dtype != np.bool_:
        return None, fail(f"{what} has dtype {a.dtype}, not bool: look at how you build it",
                          "0/1 numbers are not a mask: True = may attend",
                          "build it with a comparison such as j <= i")
    return a, None


# ---------------------------------------------------------------------------------------------------
# 6b: the encoder–decoder

def reversal_alignment(n):
    """The reference: the anti-diagonal, target i from source n - 1 - i."""
    return np.eye(n, dtype=bool)[::-1].copy()


@checker
def check_reversal_alignment(fn):
    """Check `fn(n) -> (n, n)` bool: True at [i, j] when target token i of a reversed string of n tokens is
    source token j. Rows are target positions (queries), columns source positions (keys)."""
    for n in (5, 8):
        result, error = call(fn, n)
        if error is not None:
            return error
        a, error = _bool_matrix(result, (n, n), f"for n = {n} your matrix")
        if error is not None:
            return error
        i = np.arange(n)
        if np.array_equal(a, reversal_alignment(n)):
            continue
        fix = "np.eye(n, dtype=bool)[::-1], True at [i, n - 1 - i]"
        if np.array_equal(a, np.eye(n, dtype=bool)):
            return fail("that is the diagonal: target i = source i is copying, not reversing. Look at which source "
                        "token the first target token is", "the FIRST target token is the LAST source token", fix)
        shifted = np.zeros((n + 1, n + 1), dtype=bool)
        shifted[i, n - i] = True
        if np.array_equal(a, shifted[:n, :n]) or np.array_equal(a, shifted[1:, 1:]):
            return fail("off by one: look at where target 0 comes from",
                        "positions run 0 .. n-1, so target 0 comes from source n - 1", "target i from source "
                        "n - 1 - i, not n - i: " + fix)
        if (a.sum(axis=1) != 1).any():
            return fail(f"each row needs one True, got rows with {sorted(set(a.sum(axis=1).tolist()))} Trues: look at "
                        "how many source tokens one target token copies", "exactly one", fix)
        return fail(f"for n = {n}, the Trues are in the wrong places: look at target 0 and target n - 1",
                    "target i copies source n - 1 - i", fix)
    return Feedback(True, "correct: the anti-diagonal, target i from source n - 1 - i")


def _sinusoidal(n, d, start=0, swap=False, halves=False, per_column=False):
    """The typical variants of the encoding (the reference is attn_course.positional.sinusoidal_encoding)."""
    pos = np.arange(start, start + n)[:, None]                          # (n, 1)
    if per_column:                                                      # a frequency per column, not per pair
        angles = pos * 10000.0 ** (-np.arange(d) / d)                   # (n, d)
        pe = np.sin(angles)
        pe[:, 1::2] = np.cos(angles[:, 1::2])
        return pe
    angles = pos * 10000.0 ** (-np.arange(0, d, 2) / d)                 # (n, ceil(d / 2))
    first, second = (np.cos, np.sin) if swap else (np.sin, np.cos)
    if halves:
        return np.concatenate([first(angles), second(angles)[:, :d // 2]], axis=1)
    pe = np.empty((n, d))
    pe[:, 0::2] = first(angles)
    pe[:, 1::2] = second(angles)[:, :d // 2]
    return pe


@checker
def check_positional_encoding(fn):
    """Check `fn(n_positions, d_model) -> (n_positions, d_model)`: the sinusoidal position encoding,
    PE[pos, 2i] = sin(pos / 10000^(2i / d_model)), PE[pos, 2i + 1] = cos(pos / 10000^(2i / d_model)), pos from 0."""
    n, d = 12, 16
    result, error = call(fn, n, d)
    if error is not None:
        return error
    if hasattr(result, "detach"):
        result = result.detach().cpu().numpy()
    pe = np.asarray(result, dtype=np.float64)
    fix = ("angles = pos / 10000 ** (np.arange(0, d, 2) / d) with pos = np.arange(n)[:, None]; pe[:, 0::2] = "
           "np.sin(angles), pe[:, 1::2] = np.cos(angles)")
    if pe.shape == (d, n):
        return fail(f"shape {pe.shape} is transposed: look at which axis holds the positions",
                    f"one ROW per position: (n_positions, d_model) = {(n, d)}", fix)
    if pe.shape != (n, d):
        return fail(f"shape {pe.shape}, expected (n_positions, d_model) = {(n, d)}: look at the size of each axis",
                    "d_model columns: d_model / 2 sines and as many cosines", fix)
    expected = sinusoidal_encoding(n, d)
    if np.allclose(pe, expected, atol=1e-6):
        pass
    elif np.allclose(pe, _sinusoidal(n, d, swap=True), atol=1e-6):
        return fail("row 0 is 1, 0, 1, 0, ...: sine and cosine are swapped. Look at which columns hold which",
                    "even columns 2i hold the sine, odd columns 2i + 1 the cosine", fix)
    elif np.allclose(pe, _sinusoidal(n, d, start=1), atol=1e-6):
        return fail("row 0 is not 0, 1, 0, 1, ...: the positions start at 1. Look at your range of positions",
                    "the first token is at position 0", fix)
    elif np.allclose(pe, _sinusoidal(n, d, halves=True), atol=1e-6):
        return fail("the sines fill the first half of the columns and the cosines the second: look at where each "
                    "goes", "interleave them: sines in the even columns 0, 2, 4, ..., cosines in the odd ones", fix)
    elif np.allclose(pe, _sinusoidal(n, d, per_column=True), atol=1e-6):
        return fail("each column has its own frequency: look at the exponent of 10000",
                    "a sine and the cosine next to it share one frequency, 10000^(-2i/d_model) for columns 2i and "
                    "2i + 1", "use the pair index i, not the column index: " + fix)
    elif np.allclose(pe[:, 0], np.sin(np.arange(n))) and not np.allclose(pe[:, 2], expected[:, 2], atol=1e-6):
        return fail("column 0 is right, the later columns are not: look at the frequencies",
                    "the frequency of pair i is 1 / 10000^(2i / d_model), falling from 1 to about 1/10000", fix)
    else:
        return fail("the values differ from sin(pos / 10000^(2i/d_model)) in column 2i and the cosine in column "
                    "2i + 1: look at row 0", "row 0 should be 0, 1, 0, 1, ...", fix)
    result, error = call(fn, 5, 7)
    if error is not None or np.shape(result) != (5, 7) or not np.allclose(np.asarray(result, dtype=np.float64),
                                                                          sinusoidal_encoding(5, 7), atol=1e-6):
        return Feedback(True, "correct for even d_model. Going further: make it work for an odd d_model too (the last "
                              "sine has no cosine partner)")
    return Feedback(True, "correct: sines in the even columns, cosines in the odd ones, one frequency per pair, "
                          "positions from 0, any d_model")


def transformer_masks(source_lengths, target_lengths, n_source, n_target):
    """The reference: (encoder (b, S, S), decoder (b, T, T), cross (b, T, S)), True = may attend."""
    return _masks(source_lengths, target_lengths, n_source, n_target)


def _masks(source_lengths, target_lengths, n_source, n_target, causal=True, strict=False, cross_causal=False,
           cross_by_target=False, decoder_padding=True):
    """The three masks (all flags at their defaults) and their typical variants."""
    s_len, t_len = np.asarray(source_lengths)[:, None, None], np.asarray(target_lengths)[:, None, None]
    j_s, j_t = np.arange(n_source)[None, None, :], np.arange(n_target)[None, None, :]
    i_t = np.arange(n_target)[None, :, None]
    encoder = np.broadcast_to(j_s < s_len, (len(s_len), n_source, n_source))
    decoder = np.broadcast_to(np.ones((1, 1, 1), dtype=bool), (len(s_len), n_target, n_target))
    if decoder_padding:
        decoder = decoder & (j_t < t_len)
    if causal:
        decoder = decoder & ((j_t < i_t) if strict else (j_t <= i_t))
    cross = np.broadcast_to(j_s < (t_len if cross_by_target else s_len), (len(s_len), n_target, n_source))
    if cross_causal:
        cross = cross & (j_s <= i_t)
    return encoder, decoder, cross


@checker
def check_transformer_masks(fn):
    """Check `fn(source_lengths, target_lengths, n_source, n_target) -> (encoder, decoder, cross)`, the three masks
    of an encoder–decoder for a batch padded to n_source and n_target tokens (True = may attend):

        encoder (batch, n_source, n_source)  self-attention over the source: every real source token
        decoder (batch, n_target, n_target)  self-attention over the target: real tokens at or before the query
        cross   (batch, n_target, n_source)  target queries over source keys: every real source token
    """
    source_lengths, target_lengths, n_s, n_t = np.array([5, 3]), np.array([4, 2]), 5, 4
    result, error = call(fn, source_lengths, target_lengths, n_s, n_t)
    if error is not None:
        return error
    if not (isinstance(result, (tuple, list)) and len(result) == 3):
        return fail(f"expected three masks (encoder, decoder, cross), got {type(result).__name__}: look at your "
                    "return line", "return encoder, decoder, cross")
    names = ("encoder", "decoder", "cross")
    shapes = ((2, n_s, n_s), (2, n_t, n_t), (2, n_t, n_s))
    masks = []
    for got, shape, name in zip(result, shapes, names):
        if name == "cross" and np.shape(got) == (2, n_s, n_t):
            return fail(f"cross has shape {np.shape(got)}: look at who asks in cross-attention",
                        "rows are the queries, which in cross-attention are the TARGET positions; columns the source "
                        "keys", "(batch, n_target, n_source)")
        a, error = _bool_matrix(got, shape, f"the {name} mask")
        if error is not None:
            return error
        masks.append(a)
    encoder, decoder, cross = masks
    right = transformer_masks(source_lengths, target_lengths, n_s, n_t)
    if all(np.array_equal(a, b) for a, b in zip(masks, right)):
        return Feedback(True, "correct: padding hidden in all three, the future hidden in the decoder only, and the "
                              "cross mask follows the source's padding")
    enc_fix, dec_fix, cross_fix = ("encoder: j_s < source_length", "decoder: (j_t <= i_t) & (j_t < target_length)",
                                   "cross: j_s < source_length, for every target query")
    if all(np.array_equal(a, ~b) for a, b in zip(masks, right)):
        return fail("every mask is inverted: the real tokens are hidden. Look at what True means",
                    "in this package True means MAY attend; you marked the positions to hide",
                    "negate your comparisons: " + "; ".join((enc_fix, dec_fix, cross_fix)))
    if not np.array_equal(encoder, right[0]):
        if encoder.all():
            return fail("the encoder mask lets every query attend to the padding: look at the source lengths",
                        "hide the keys j >= source length of each string", enc_fix)
        if np.array_equal(encoder, np.swapaxes(right[0], 1, 2)):
            return fail("the encoder mask hides padded QUERIES (rows): look at which axis the lengths compare with",
                        "it is the padded KEYS (columns) that no query may attend to", enc_fix)
        return fail("the encoder mask is wrong: look at the source lengths",
                    "query i may attend to key j when j < source length", enc_fix)
    if not np.array_equal(decoder, right[1]):
        if np.array_equal(decoder, _masks(source_lengths, target_lengths, n_s, n_t, causal=False)[1]):
            return fail("the decoder mask has no causal part: target position i may see later target tokens. Look at "
                        "what the decoder is trained to predict", "it predicts the very tokens it could then read",
                        "add j <= i: " + dec_fix)
        if np.array_equal(decoder, _masks(source_lengths, target_lengths, n_s, n_t, strict=True)[1]):
            return fail("the decoder mask hides the diagonal (j < i): look at position 0",
                        "a position may attend to itself, and position 0 would have no key at all",
                        "use j <= i: " + dec_fix)
        if np.array_equal(decoder, _masks(source_lengths, target_lengths, n_s, n_t, decoder_padding=False)[1]):
            return fail("the decoder mask is causal but ignores the target's padding: look at the target lengths",
                        "hide the keys j >= target length too", dec_fix)
        return fail("the decoder mask is wrong: look at its causal part and at the target lengths",
                    "query i may attend to key j when j <= i and j < target length", dec_fix)
    if np.array_equal(cross, _masks(source_lengths, target_lengths, n_s, n_t, cross_causal=True)[2]):
        return fail("the cross mask is causal; it must not be: look at what is known before decoding starts",
                    "the whole source is known, so every target position may read every real source token", cross_fix)
    if np.array_equal(cross, _masks(source_lengths, target_lengths, n_s, n_t, cross_by_target=True)[2]):
        return fail("the cross mask uses the TARGET lengths: look at what its keys are",
                    "its keys are source positions, so it hides j >= source length", cross_fix)
    if cross.all():
        return fail("the cross mask lets the target attend to the source's padding: look at the source lengths",
                    "hide the keys j >= source length", cross_fix)
    return fail("the cross mask is wrong: look at its keys", "target query i may attend to source key j when "
                "j < source length", cross_fix)


# ---------------------------------------------------------------------------------------------------
# 6c: the language model

@checker
def check_causal_mask(fn):
    """Check `fn(n) -> (n, n)` bool, True where query i may attend to key j: j <= i. Then use it as the mask
    of a small (untrained) GPT and check that what it predicts at a position does not change when a later
    token changes: the model cannot read the future."""
    for n in (4, 7, 1):
        result, error = call(fn, n)
        if error is not None:
            return error
        a, error = _bool_matrix(result, (n, n), f"for n = {n} your mask")
        if error is not None:
            return error
        expected = causal_mask(n)
        if np.array_equal(a, expected):
            continue
        fix = "np.tril(np.ones((n, n), dtype=bool)): True where j <= i"
        if n > 1 and np.array_equal(a, ~expected):
            return fail("the mask is inverted: the past is hidden and the future open. Look at what True means",
                        "True must mean MAY attend (the package's convention); you marked the positions to hide", fix)
        if n > 1 and np.array_equal(a, expected.T):
            return fail("upper triangle: query 0 may attend to every later key, so each position reads the tokens it "
                        "must predict. Look at which triangle you keep", "query i may attend to keys j <= i",
                        "np.tril, not np.triu: " + fix)
        if a.all():
            return fail("no mask at all: every position may read the whole sequence, the future included. Look at "
                        "which keys query i may see", "keys j <= i only", fix)
        if np.array_equal(a, np.tril(np.ones((n, n), dtype=bool), -1)):
            return fail("the diagonal is hidden (j < i): look at the first token",
                        "a token may attend to itself, and with this mask the first token has no key at all",
                        "j <= i, not j < i: " + fix)
        return fail(f"for n = {n} the mask differs from j <= i at {int((a != expected).sum())} places: look at the "
                    "diagonal and above", fix)
    return _no_peeking(fn)


def _no_peeking(fn):
    """Behavioural check: a GPT with the learner's mask; does changing token 5 move the logits at 0..4?"""
    import torch

    from ..transformer import GPT

    with torch.random.fork_rng(devices=[]):  # the model's initialisation must not move the learner's RNG
        torch.manual_seed(0)
        model = GPT(11, d_model=16, n_heads=2, n_layers=2, d_ff=16, max_len=8,
                    mask=lambda n: torch.as_tensor(np.asarray(fn(n)))).eval()
    ids = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8]])
    changed = ids.clone()
    changed[0, 5] = 9
    with torch.no_grad():
        before, after = model(ids)[0], model(changed)[0]
    moved = (before[0, :5] - after[0, :5]).abs().max().item()
    if moved > 1e-6:
        return fail(f"inside a GPT your mask lets the predictions at positions 0-4 move by {moved:.3g} when token 5 "
                    "changes: the model can read the future. Look at your mask for n = 8",
                    "the model asks for a mask of its own length", "np.tril(np.ones((n, n), dtype=bool)) for every n")
    return Feedback(True, "correct: j <= i, and inside a GPT changing token 5 leaves the predictions at positions "
                          "0-4 exactly as they were")


def _log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def perplexity(logits, targets):
    """The reference: exp(mean over the n predictions of -log softmax(logits)[target])."""
    return float(np.exp(-_log_softmax(logits)[np.arange(len(targets)), targets].mean()))


@checker
def check_perplexity(fn):
    """Check `fn(logits, targets) -> float`: logits (n, vocab) for n predictions, targets (n,) the ids that came;
    perplexity = exp(mean over the n predictions of -log softmax(logits)[target])."""
    rng = np.random.default_rng(0)
    logits = 2.0 * rng.standard_normal((6, 5))
    targets = np.array([0, 3, 1, 4, 2, 2])
    nll = -_log_softmax(logits)[np.arange(6), targets]
    expected = perplexity(logits, targets)
    result, error = call(fn, logits, targets)
    if error is not None:
        return error
    if np.ndim(result) != 0:
        return fail(f"expected one number, got an array of shape {np.shape(result)}: look at the last step",
                    "the perplexity averages over the predictions", "np.exp(nll.mean())")
    result = float(result)
    fix = "np.exp(-log_softmax(logits)[np.arange(n), targets].mean())"
    if np.isclose(result, expected, rtol=1e-6):
        pass
    elif np.isclose(result, nll.mean()):
        return fail(f"{result:.4f} is the mean negative log-likelihood (the cross-entropy, in nats): look at the last "
                    "step", "the perplexity is its exponential", fix)
    elif np.isclose(result, np.exp(nll.sum())):
        return fail("your perplexity grows with the length of the text: look at how you combine the losses",
                    "the perplexity is the exp of their MEAN, not of their sum", fix)
    elif np.isclose(result, np.exp(-logits[np.arange(6), targets].mean())):
        return fail("you used the logits as log-probabilities: look at what the model outputs",
                    "logits are not normalised", "take log_softmax first: " + fix)
    elif np.isclose(result, 2 ** nll.mean()):
        return fail("2 ** (a loss in nats) mixes bases: look at the base of your log and of your power",
                    "use exp with natural logs (or 2 ** with log2)", fix)
    elif np.isclose(result, np.exp(-_log_softmax(logits.T).T[np.arange(6), targets].mean())):
        return fail("the softmax ran over the predictions (axis 0): look at the axis of your softmax",
                    "each prediction is a distribution over the vocabulary, the last axis", fix)
    elif np.isclose(result, 1 / np.exp(-nll).mean()):
        return fail("you averaged the probabilities, then inverted: look at what the perplexity averages",
                    "it averages the LOG-probabilities: exp(-mean log p)", fix)
    else:
        return fail(f"expected {expected:.4f} = exp(mean -log softmax(logits)[target]), got {result:.4f}: look at each "
                    "step", "log_softmax over the vocabulary, pick the targets, mean, negate, exp", fix)
    shifted = logits + 1000.0  # the same distribution (softmax ignores a shift), but exp(1000) overflows
    with np.errstate(all="ignore"):
        result_big, error = call(fn, shifted, targets)
    if error is not None or not np.isfinite(result_big) or not np.isclose(float(result_big), expected, rtol=1e-6):
        return fail("right on small logits, but adding 1000 to every logit (which changes no probability) breaks it: "
                    "look at the exponentials", "exp(1000) overflows float64",
                    "subtract each row's largest logit before exp (a stable log_softmax)")
    return Feedback(True, "correct: exp of the mean negative log-softmax of the targets, stable for large logits")


@checker
def check_induction_scores(fn):
    """Check `fn(weights, period) -> (layers, heads)`: weights (layers, heads, 2p, 2p) on p random tokens repeated
    once; a head's score is its mean weight, over the queries t = p .. 2p-1 of the second half, on key t - p + 1 (the
    token after the previous occurrence of the query's token)."""
    from ..readout import induction_scores

    rng = np.random.default_rng(0)
    p, layers, heads = 5, 2, 3
    w = np.tril(np.exp(2.0 * rng.standard_normal((layers, heads, 2 * p, 2 * p))))
    w /= w.sum(axis=-1, keepdims=True)
    t = np.arange(p, 2 * p)
    expected = induction_scores(w, p)
    result, error = call(fn, w, p)
    if error is not None:
        return error
    r = np.asarray(result, dtype=np.float64)
    if r.shape != (layers, heads):
        if r.shape == (heads, layers):
            return fail(f"shape {r.shape} is transposed: look at the order of the axes",
                        f"one row per layer: (layers, heads) = {(layers, heads)}")
        return fail(f"shape {r.shape}, expected one score per head, (layers, heads) = {(layers, heads)}: look at the "
                    "axis you average over", "average over the queries (the last index you picked), not over layers "
                    "or heads", "weights[..., t, t - p + 1].mean(axis=-1) with t = np.arange(p, 2 * p)")
    if np.allclose(r, expected):
        return Feedback(True, "correct: each head's mean weight, over the second half, on the token after the previous "
                              "occurrence")
    fix = "weights[..., t, t - p + 1].mean(axis=-1) with t = np.arange(p, 2 * p)"
    if np.allclose(r, w[..., t, t - p].mean(axis=-1)):
        return fail("that is the weight on the previous occurrence ITSELF (key t - p), a duplicate-token pattern: look "
                    "at which key an induction head reads", "it looks one token further, at the token that came next "
                    "last time, which is what it predicts", "key t - p + 1: " + fix)
    if np.allclose(r, w[..., t, t - p + 2].mean(axis=-1)):
        return fail("off by one: look at the key you read", "the key is the token right after the previous "
                    "occurrence", "t - p + 1, not t - p + 2: " + fix)
    t_all = np.arange(p - 1, 2 * p)
    if np.allclose(r, w[..., t_all, t_all - p + 1].mean(axis=-1)):
        return fail("the queries run from p - 1: look at which queries have a previous occurrence",
                    "only queries t >= p, in the second half", "average over t = p .. 2p-1: " + fix)
    if np.allclose(r, w[..., t, t - 1].mean(axis=-1)):
        return fail("that is the weight on the previous token (key t - 1), a previous-token head's score: look at "
                    "the key", "the key is the token after the previous occurrence of the query's token", fix)
    if np.allclose(r, w[..., t - p + 1, t].mean(axis=-1)):
        return fail("query and key are swapped: look at the order of the indices",
                    "weights[..., query, key]: the query t is in the second half, the key t - p + 1 in the first", fix)
    return fail("the scores differ from each head's mean weight on the token after the previous occurrence: look at "
                "the indices", fix)


# ---------------------------------------------------------------------------------------------------
# 6c, exercise 6c.4 (predict): which predictions change when one token changes?

EDIT_WINDOW, EDIT_POSITION = 24, 10  # a window of 24 held-out tokens; the token at position 10 is replaced


@functools.cache
def _tales_model():
    from .. import training
    return training.load("tales")  # computes in float64: the same logits on every machine


@functools.cache
def _changed_positions():
    """The positions of the window whose next-token logits change when the token at EDIT_POSITION changes,
    measured on the shipped "tales" model."""
    import torch
    from .. import sequences
    model = _tales_model()
    ids = torch.as_tensor(sequences.tale_split(seed=0)[1][:EDIT_WINDOW].copy())[None]   # (1, 24)
    edited = ids.clone()
    edited[0, EDIT_POSITION] = (ids[0, EDIT_POSITION] + 1) % model.vocab_size
    with torch.no_grad():
        before, after = model(ids)[0][0], model(edited)[0][0]                            # (24, V) each
    return tuple(int(i) for i in torch.nonzero((before - after).abs().amax(-1) > 1e-12).flatten())


@checker
def check_changed_prediction(changed):
    """Check a prediction `changed`: in a window of 24 tokens fed to the causal language model, the token at
    position 10 (counting from 0) is replaced; at how many of the 24 positions does the predicted distribution
    of the next token change?"""
    if changed is Ellipsis:
        return not_written("your prediction `changed`", "the `...` after `changed =`")
    if isinstance(changed, bool) or not isinstance(changed, (int, np.integer)):
        return Feedback(False, f"write the prediction as a whole number of positions, got {changed!r}")
    positions = _changed_positions()
    right, n, i = len(positions), EDIT_WINDOW, EDIT_POSITION
    if changed == right:
        return Feedback(True, f"right: {right} positions, {positions[0]} to {positions[-1]}. Position t reads "
                              f"tokens 0 .. t only, so the positions before {i} cannot see the change, and "
                              f"position {i} itself, which reads its own token, and every later one can")
    if changed == n:
        return Feedback(False, f"{changed} is every position: can position 3 read the token at position {i}?",
                        hints=("the causal mask lets position t attend to the keys j <= t only",
                               f"the positions {i} .. {n - 1} see the change: {n - i} of them"))
    if changed == n - i - 1:
        return Feedback(False, f"{changed} leaves out one position: does position {i} read its own token?",
                        hints=("the mask allows j <= t, the diagonal included: position t attends to itself",
                               f"positions {i} .. {n - 1}: {n - i}"))
    if changed == i or changed == i + 1:
        return Feedback(False, f"{changed} counts the positions BEFORE the edit: which way does information flow "
                               "under the causal mask?",
                        hints=("position t reads the tokens 0 .. t: the past, never the future",
                               f"the positions {i} .. {n - 1} change: {n - i}"))
    return Feedback(False, f"{changed} positions: which positions can attend to position {i}?",
                    hints=("under the causal mask, position t attends to the keys j <= t",
                           f"the positions {i} .. {n - 1}: {n - i}"))


# ---------------------------------------------------------------------------------------------------
# 6c, exercise 6c.5 (derive): the perplexity of a perfect copier

def ideal_perplexity(period, vocab_size):
    """The reference: the perplexity, over the 2p - 1 predictions of a sequence of p random tokens repeated
    once (2p tokens), of a model that is uniform over the vocabulary where the next token cannot be known
    (the p predictions of tokens 1 .. p) and certain and right where it can (tokens p + 1 .. 2p - 1).
    exp(p log V / (2p - 1)) = V ** (p / (2p - 1))."""
    return float(vocab_size ** (period / (2 * period - 1)))


def _ideal_copier_perplexity(period, vocab_size):
    """The same number measured: the ideal model's logits, then exp(mean cross-entropy)."""
    rng = np.random.default_rng(period)
    tokens = np.tile(rng.permutation(vocab_size)[:period], 2)               # (2p,)
    logits = np.zeros((2 * period - 1, vocab_size))                          # uniform where nothing is known
    for t in range(period, 2 * period - 1):                                  # predicts tokens[t + 1], a copy
        logits[t, tokens[t + 1]] = 60.0                                      # exp(-60): certain, to 1e-26
    return float(np.exp(-_log_softmax(logits)[np.arange(2 * period - 1), tokens[1:]].mean()))


@checker
def check_ideal_perplexity(fn):
    """Check `fn(period, vocab_size) -> float`: the perplexity that a perfect copier reaches on a sequence of
    `period` random tokens followed by the same tokens again, over its 2 * period - 1 next-token predictions
    (uniform over the vocabulary until the repeat can be known, certain and right after)."""
    for period, vocab in [(10, 62), (5, 73), (3, 10), (20, 50)]:
        answer, error = call(fn, period, vocab)
        if error is not None:
            return error
        case = f"period = {period}, vocab_size = {vocab}"
        try:
            got = float(answer)
        except (TypeError, ValueError):
            return Feedback(False, f"{case}: return a number, got {type(answer).__name__}")
        measured = _ideal_copier_perplexity(period, vocab)
        if np.isclose(got, measured, rtol=1e-6):
            continue
        p, V = period, vocab
        if np.isclose(got, V ** ((p - 1) / (2 * p - 1))):
            return Feedback(False, f"{case}: you returned {got:.4g}: one unpredictable prediction too few. Is the "
                                   "first token of the repeat predictable?",
                            hints=("when the model reads the last token of the first half, nothing says the "
                                   "sequence is about to repeat",
                                   "the predictions of tokens 1 .. p are uniform (p of them): exp(p log V / (2p - 1))"))
        if np.isclose(got, V ** (p / (2 * p))) or np.isclose(got, V ** ((p - 1) / (2 * p))):
            return Feedback(False, f"{case}: you returned {got:.4g}: over how many predictions is the mean taken?",
                            hints=("2p tokens give 2p - 1 next-token predictions: the first token is never predicted",
                                   "PPL = exp(p log V / (2p - 1)) = V ** (p / (2p - 1))"))
        if np.isclose(got, (p * V + (p - 1)) / (2 * p - 1)):
            return Feedback(False, f"{case}: you returned {got:.4g}, the mean of the per-token perplexities; "
                                   "perplexity is the exponential of the mean LOSS",
                            hints=("average -log p over the predictions first, then exponentiate",
                                   "PPL = exp(p log V / (2p - 1))"))
        if np.isclose(got, np.log(measured)):
            return Feedback(False, f"{case}: you returned {got:.4g}, the cross-entropy in nats: what turns it into "
                                   "a perplexity?",
                            hints=("perplexity = exp(cross-entropy)", "PPL = exp(p log V / (2p - 1))"))
        return Feedback(False, f"{case}: expected {measured:.6g}, got {got:.6g}",
                        hints=("count the uniform predictions (loss log V each) and the certain ones (loss 0)",
                               "PPL = exp(p log V / (2p - 1))"))
    return Feedback(True, "correct: p uniform predictions of log V nats each and p - 1 free ones give "
                          "V ** (p / (2p - 1)), a little above sqrt(V), with no loss at all on the repeat")


# ---------------------------------------------------------------------------------------------------
# 6c, exercise 6c.6 (hard): generate with a KV cache

def kv_cached_logits(model, ids, *, position=True, include_self=True, scale=True):
    """The reference (flags at their defaults): the logits (T, V) of the GPT `model` on the 1-D ids (T,),
    computed one position at a time; each layer keeps the keys and values of the positions before (its KV
    cache) and computes the query, key and value of the new position only. The flags make the typical
    mistakes: the position encoding of position 0 every time, the new key left out of its own attention,
    no 1 / sqrt(d_head)."""
    import torch
    embed, cache, out = model.embed, [([], []) for _ in model.blocks], []
    for t in range(len(ids)):
        x = embed.token(ids[t:t + 1]) * embed.scale + embed.pe[t if position else 0]     # (1, d_model)
        for block, (keys, values) in zip(model.blocks, cache):
            a, h = block.attention, block.norm_1(x)
            q, k, v = a._split(a.W_q(h)), a._split(a.W_k(h)), a._split(a.W_v(h))         # (heads, 1, d_head)
            keys.append(k)
            values.append(v)
            K = torch.cat(keys if include_self else keys[:-1] or [torch.zeros_like(k)], -2)  # (heads, t + 1, d_head)
            V = torch.cat(values if include_self else values[:-1] or [torch.zeros_like(v)], -2)
            s = q @ K.transpose(-1, -2) / (q.shape[-1] ** 0.5 if scale else 1.0)            # (heads, 1, t + 1)
            x = x + a.W_o(a._merge(torch.softmax(s, -1) @ V))
            x = x + block.feed_forward(block.norm_2(x))
        out.append(model.head(model.norm(x)))
    return torch.cat(out)                                                                 # (T, V)


@checker
def check_kv_cache(fn):
    """Check `fn(model, ids) -> (T, vocab)`: the logits of the GPT `model` (chapter 6c's "tales" model) on the
    1-D LongTensor ids (T,), computed one position at a time with a KV cache: for each new position, each layer
    computes one query, one key and one value, and attends over the keys and values it has kept. The result must
    equal model(ids[None])[0][0], the logits computed for all positions at once."""
    import torch
    from .. import sequences
    model = _tales_model()
    ids = torch.as_tensor(sequences.tale_split(seed=0)[1][30:50].copy())                  # (20,)
    rows = []
    hooks = [block.attention.W_q.register_forward_hook(lambda m, i, o: rows.append(i[0].shape[-2]))
             for block in model.blocks]
    whole = []
    hooks.append(model.register_forward_hook(lambda m, i, o: whole.append(i[0].shape)))
    try:
        with torch.no_grad():
            result, error = call(fn, model, ids.clone())
    finally:
        for hook in hooks:
            hook.remove()
    if error is not None:
        return error
    if whole:
        return Feedback(False, f"your function called the whole model, model(...) (on shape {tuple(whole[0])}): that "
                               "recomputes every position; which parts of the model does one new position need?",
                        hints=("run the parts yourself: model.embed, then each block of model.blocks, then "
                               "model.norm and model.head",
                               "for each new position: its embedding, then per block one query, key and value from "
                               "block.attention.W_q, W_k, W_v, attending over the kept keys and values"))
    if any(r != 1 for r in rows):
        return Feedback(False, f"a layer computed queries for {max(rows)} positions at once: the earlier positions' "
                               "queries are recomputed at every step. What does the new position need from them?",
                        hints=("the new position's query attends to the earlier KEYS and VALUES; their queries are "
                               "never needed again",
                               "keep per layer the list of keys and values; each step computes q, k, v of the new "
                               "position only, appends k and v, and attends over all of them"))
    if not isinstance(result, torch.Tensor) or tuple(result.shape) != (len(ids), model.vocab_size):
        shape = tuple(result.shape) if hasattr(result, "shape") else type(result).__name__
        return Feedback(False, f"expected logits of shape (T, vocab) = {(len(ids), model.vocab_size)}, got {shape}")
    with torch.no_grad():
        right = model(ids[None])[0][0]
    got = result.detach().double()
    if torch.allclose(got, right, rtol=0, atol=1e-9):
        return Feedback(True, "correct: the logits equal the full computation's; each step computed one query, key "
                              "and value per layer, so a step costs O(t) instead of recomputing all t positions")
    for flags, message, hints in [
        (dict(position=False), "the first position is right, the later ones are not: what tells the model WHERE "
                               "the new token stands?",
         ("the embedding adds the positional encoding of the token's position, pe[t]",
          "x = model.embed.token(ids[t:t + 1]) * model.embed.scale + model.embed.pe[t]")),
        (dict(include_self=False), "the logits differ from the first position on: which keys may the new position "
                                   "attend to?",
         ("the causal mask allows j <= t: the new position attends to itself too",
          "append the new key and value to the cache BEFORE attending")),
        (dict(scale=False), "the logits differ: compare your scores with scaled_dot_product_attention's",
         ("the scores are divided by sqrt(d_head), the size of one head",
          "s = q @ K.transpose(-1, -2) / q.shape[-1] ** 0.5")),
    ]:
        with torch.no_grad():
            wrong = kv_cached_logits(model, ids, **flags)
        if torch.allclose(got, wrong, rtol=0, atol=1e-9):
            return Feedback(False, message, hints=hints)
    first = int(torch.nonzero((got - right).abs().amax(-1) > 1e-9)[0])
    return Feedback(False, f"the logits differ from the full computation from position {first} on",
                    hints=("compare, position by position, with model(ids[None])[0][0]",
                           "per step: embed (with pe[t]), then per block norm_1, q/k/v of the new row, append k, v, "
                           "attend, W_o, residual, then the feed-forward with norm_2; then model.norm, model.head"))


# ---------------------------------------------------------------------------------------------------
# 6b, exercise 6b.4 (predict): the shape of the cross-attention weights

@functools.cache
def _reverse_model():
    from .. import training
    return training.load("reverse")  # float64


@functools.cache
def _cross_shape():
    """The shape of the cross-attention weights that greedy decoding returns for 3 held-out strings of 8 digits
    decoded for 5 steps, measured on the shipped "reverse" model."""
    import torch
    from .. import sequences
    source = torch.as_tensor(sequences.reverse_split(seed=0)[1].source[:3])
    _, attention = _reverse_model().generate(source, 5)
    return tuple(attention.cross.shape)


def __getattr__(name):
    # The reference predictions are measured on the models when first asked for: importing
    # attn_course.exercises must not import torch.
    if name == "CHANGED":
        return len(_changed_positions())
    if name == "CROSS_SHAPE":
        return _cross_shape()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@checker
def check_cross_shape(shape):
    """Check a prediction `shape`: the shape of attention.cross after `ids, attention = model.generate(source, 5)`
    for the chapter's model (2 layers, 4 heads) and a source of 3 strings of 8 digits."""
    if shape is Ellipsis:
        return not_written("your prediction `shape`", "the `...` after `shape =`")
    try:
        got = tuple(int(x) for x in shape)
    except (TypeError, ValueError):
        return Feedback(False, f"write the prediction as a tuple of whole numbers, got {shape!r}")
    right = _cross_shape()
    if got == right:
        return Feedback(True, f"right: {right} = (batch, layers, heads, target positions, source positions): one "
                              "row per query, the 5 tokens written, one column per key, the 8 source digits")
    if sorted(got) == sorted(right) and len(got) == 5 and got[3:] == right[3:][::-1]:
        return Feedback(False, f"{got}: the last two axes are the wrong way round: in cross-attention, which side "
                               "asks (the queries, the rows)?",
                        hints=("the queries come from the decoder, the keys and values from the encoder's memory",
                               f"rows: the {right[3]} target positions; columns: the {right[4]} source positions"))
    if len(got) == 4:
        return Feedback(False, f"{got} has 4 axes: which of batch, layers, heads, queries, keys is missing?",
                        hints=("every decoder layer has its own cross-attention, and every layer its own heads",
                               f"(batch, layers, heads, queries, keys) = {right}"))
    if len(got) == 5 and got[3] != right[3]:
        return Feedback(False, f"{got}: {got[3]} queries; how many target positions does the last step of greedy "
                               "decoding read?",
                        hints=("greedy decoding writes 5 tokens; its last step reads begin and the first 4, 5 "
                               "positions in all",
                               f"the shape is {right}"))
    return Feedback(False, f"{got} is not the shape: go through the axes (batch, layers, heads, queries, keys)",
                    hints=("3 strings, 2 layers, 4 heads; queries from the target, keys from the source",
                           f"the shape is {right}"))


# ---------------------------------------------------------------------------------------------------
# 6b, exercise 6b.5 (derive): the parameters of a decoder layer

def decoder_layer_params(d_model, n_heads, d_ff):
    """The reference: the parameters of one DecoderBlock, 2 attentions of 4 (d^2 + d) each, a feed-forward
    network of 2 d d_ff + d_ff + d, and 3 layer norms of 2 d. n_heads does not enter: the heads share out
    the d columns of each projection."""
    return 2 * 4 * (d_model * d_model + d_model) + (2 * d_model * d_ff + d_ff + d_model) + 3 * 2 * d_model


def _counted_params(d_model, n_heads, d_ff):
    import torch
    from ..transformer import DecoderBlock
    with torch.random.fork_rng(devices=[]):  # building a layer draws its initial weights: leave the learner's state
        return sum(p.numel() for p in DecoderBlock(d_model, n_heads, d_ff).parameters())


@checker
def check_decoder_params(fn):
    """Check `fn(d_model, n_heads, d_ff) -> int`: the number of learned parameters of one decoder layer
    (transformer.DecoderBlock: masked self-attention, cross-attention, feed-forward, three layer norms, every
    linear layer with a bias), checked against the block's own count."""
    for d, h, d_ff in [(32, 4, 64), (48, 3, 96), (64, 8, 256), (512, 8, 2048)]:
        answer, error = call(fn, d, h, d_ff)
        if error is not None:
            return error
        case = f"d_model = {d}, n_heads = {h}, d_ff = {d_ff}"
        try:
            got = float(answer)
        except (TypeError, ValueError):
            return Feedback(False, f"{case}: return a number, got {type(answer).__name__}")
        right = _counted_params(d, h, d_ff)
        if got == right:
            continue
        attention, norms = 4 * (d * d + d), 6 * d
        if np.isclose(got, right + 2 * 4 * (h - 1) * d * d) or np.isclose(got, right + 2 * 4 * (h - 1) * (d * d + d)):
            return Feedback(False, f"{case}: you returned {got:g}, which grows with the number of heads: does a "
                                   "head have its own d_model x d_model projection?",
                            hints=("the heads split the d_model outputs of ONE projection into n_heads slices of "
                                   "d_model / n_heads",
                                   "each attention has 4 (d^2 + d) parameters, whatever n_heads"))
        if np.isclose(got, right - norms):
            return Feedback(False, f"{case}: you returned {got:g}, {norms} short: which part of a layer has a gain "
                                   "and a bias per coordinate?",
                            hints=("a pre-norm decoder layer has a LayerNorm before each of its 3 sublayers",
                                   "3 layer norms of 2 d_model parameters each"))
        if np.isclose(got, right - 2 * 4 * d - d_ff - d) or np.isclose(got, right - 2 * 4 * d - d_ff - d - norms):
            return Feedback(False, f"{case}: you returned {got:g}: the weight matrices are counted, but what else "
                                   "does an nn.Linear learn?",
                            hints=("each linear layer has a bias, one per output",
                                   "an attention has 4 (d^2 + d); the feed-forward 2 d d_ff + d_ff + d"))
        if np.isclose(got, right - attention):
            return Feedback(False, f"{case}: you returned {got:g}, one attention short: how many attentions does a "
                                   "DECODER layer have?",
                            hints=("masked self-attention over the target, then cross-attention over the memory",
                                   "2 x 4 (d^2 + d)"))
        return Feedback(False, f"{case}: expected {right}, got {got:g}",
                        hints=("count each sublayer: 2 attentions, the feed-forward, 3 layer norms",
                               "8 (d^2 + d) + 2 d d_ff + d_ff + d + 6 d"))
    return Feedback(True, "correct: 8 (d² + d) for the two attentions, 2 d d_ff + d_ff + d for the feed-forward and "
                          "6 d for the norms; the number of heads does not enter, the heads share out each projection")


# ---------------------------------------------------------------------------------------------------
# 6b, exercise 6b.6 (hard): the first layer's cross-attention, by hand

def cross_weights_by_hand(model, source, target_in, *, norm=True, self_attention=True, scale=True):
    """The reference (flags at their defaults): the cross-attention weights (B, heads, T, S) of the first decoder
    layer of the encoder–decoder `model`, for source ids (B, S) and decoder input ids target_in (B, T), from
    the model's parameters. The flags make typical mistakes: the queries from y instead of LN(y), the
    self-attention sublayer skipped, no 1 / sqrt(d_head)."""
    import torch
    memory, _ = model.encode(source)                                          # (B, S, d)
    block = model.decoder[0]
    y = model.embed_target(target_in)                                         # (B, T, d)
    if self_attention:
        y = y + block.self_attention(block.norm_1(y), causal=True)[0]
    a = block.cross_attention
    q = a._split(a.W_q(block.norm_2(y) if norm else y))                       # (B, h, T, d_head)
    k = a._split(a.W_k(memory))                                               # (B, h, S, d_head)
    s = q @ k.transpose(-1, -2) / (q.shape[-1] ** 0.5 if scale else 1.0)      # (B, h, T, S)
    return torch.softmax(s, -1)


@checker
def check_cross_by_hand(fn):
    """Check `fn(model, source, target_in) -> (B, heads, T, S)`: the cross-attention weights of the FIRST decoder
    layer of chapter 6b's model, computed from its parameters (model.encode, model.embed_target, the layer's
    sublayers), equal to the weights the model returns, model.decode(memory, target_in)[2][:, 0]."""
    import torch
    from .. import sequences
    model = _reverse_model()
    test = sequences.reverse_split(seed=0)[1]
    source = torch.as_tensor(test.source[:4])
    target_in = model.shift_right(torch.as_tensor(test.target[:4]))
    with torch.no_grad():
        result, error = call(fn, model, source.clone(), target_in.clone())
        if error is not None:
            return error
        memory, _ = model.encode(source)
        right = model.decode(memory, target_in)[2][:, 0]                      # (B, heads, T, S)
    if not isinstance(result, torch.Tensor) or tuple(result.shape) != tuple(right.shape):
        shape = tuple(result.shape) if hasattr(result, "shape") else type(result).__name__
        return Feedback(False, f"expected weights of shape (batch, heads, target positions, source positions) = "
                               f"{tuple(right.shape)}, got {shape}",
                        hints=("split the projections into heads with block.cross_attention._split",
                               "q from the target (B, h, T, d_head), k from the memory (B, h, S, d_head); "
                               "softmax(q k^T / sqrt(d_head)) is (B, h, T, S)"))
    got = result.detach().double()
    if torch.allclose(got, right, rtol=0, atol=1e-9):
        return Feedback(True, "correct: memory from the encoder; queries from the target after the masked "
                              "self-attention sublayer and norm_2; keys from the memory; the weights the model "
                              "returns, to 1e-9")
    if torch.allclose(got.sum(-2), torch.ones_like(got.sum(-2)), atol=1e-6) and \
            not torch.allclose(got.sum(-1), torch.ones_like(got.sum(-1)), atol=1e-6):
        return Feedback(False, "the weights sum to 1 over the target positions: the softmax runs over which axis?",
                        hints=("each query (a target position) distributes its attention over the keys",
                               "softmax over the last axis, the source positions"))
    for flags, message, hints in [
        (dict(norm=False), "the weights differ: what does the decoder layer do to y before the cross-attention's "
                           "queries?",
         ("pre-norm: each sublayer reads a layer-normalised copy", "q = W_q(block.norm_2(y))")),
        (dict(self_attention=False), "the weights differ: what comes before the cross-attention in a decoder layer?",
         ("the masked self-attention sublayer adds to y first",
          "y = y + block.self_attention(block.norm_1(y), causal=True)[0]")),
        (dict(scale=False), "the weights are too peaked: compare your scores with scaled_dot_product_attention's",
         ("the scores are divided by sqrt(d_head)", "s = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5")),
    ]:
        with torch.no_grad():
            wrong = cross_weights_by_hand(model, source, target_in, **flags)
        if torch.allclose(got, wrong, rtol=0, atol=1e-9):
            return Feedback(False, message, hints=hints)
    return Feedback(False, f"the weights differ from the model's by up to {(got - right).abs().max().item():.3g}",
                    hints=("compare step by step: memory = model.encode(source)[0]; y = model.embed_target(target_in)",
                           "then the self-attention sublayer, norm_2, W_q; keys W_k(memory); softmax over the keys"))


# Typical wrong answers to exercises 6c.6 and 6b.6, as students write them ({...}: what each mistake changes).
_KV_TRY = """def cached_logits(model, ids):
    embed, out, cache = model.embed, [], [([], []) for _ in model.blocks]
    for t in range(len(ids)):
        x = embed.token(ids[t:t + 1]) * embed.scale + {pe}
        for block, (keys, values) in zip(model.blocks, cache):
            a, h = block.attention, block.norm_1(x)
            q, k, v = a._split(a.W_q(h)), a._split(a.W_k(h)), a._split(a.W_v(h))
            keys.append(k)
            values.append(v)
            K, V = torch.cat(keys, -2), torch.cat(values, -2)
            w = torch.softmax(q @ K.transpose(-1, -2){scale}, -1)
            x = x + a.W_o(a._merge(w @ V))
            x = x + block.feed_forward(block.norm_2(x))
        out.append(model.head(model.norm(x)))
    return torch.cat(out)"""

_SUBLAYER = "y = y + block.self_attention(block.norm_1(y), causal=True)[0]"
_CROSS_TRY = """def cross_weights(model, source, target_in):
    memory, _ = model.encode(source)
    block = model.decoder[0]
    y = model.embed_target(target_in)
    {sublayer}
    a = block.cross_attention
    q, k = a._split(a.W_q({query})), a._split(a.W_k(memory))
    return torch.softmax(q @ k.transpose(-1, -2){scale}, dim=-1)"""


def _pe_mistake(body):
    """A positional_encoding whose body uses angles (n, d/2) = pos / 10000^(2i/d) unless it makes its own."""
    return ("def positional_encoding(n, d):\n    angles = np.arange(n)[:, None] / 10000 ** (np.arange(0, d, 2) / d)\n"
            f"    return {body}\n")


def _masks_mistake(encoder="np.broadcast_to(j_s < s, (len(s), n_source, n_source))",
                   decoder="(j_t < t) & (j_t <= i_t)", cross="np.broadcast_to(j_s < s, (len(s), n_target, n_source))"):
    return ("def transformer_masks(source_lengths, target_lengths, n_source, n_target):\n"
            "    s, t = np.asarray(source_lengths)[:, None, None], np.asarray(target_lengths)[:, None, None]\n"
            "    j_s, j_t, i_t = np.arange(n_source), np.arange(n_target), np.arange(n_target)[:, None]\n"
            f"    return {encoder}, {decoder}, {cross}\n")


def _function(name, args, body):
    return f"def {name}({args}):\n    return {body}\n"


NLL = "-log_softmax(logits)[np.arange(len(targets)), targets]"
LOG_SOFTMAX = ("def log_softmax(x):\n    x = x - x.max(axis=-1, keepdims=True)\n"
               "    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))\n\n")
TRIL = "np.tril(np.ones((n, n), dtype=bool)"
T = "np.arange(period, 2 * period)"

EXERCISES = [
    Exercise(checker=check_reversal_alignment, reference="attn_course.exercises.transformer.reversal_alignment",
             chapter="06b_transformer", solution="reversal_alignment", level="debug", mistakes=(
                 Mistake(_function("reversal_alignment", "n", "np.eye(n, dtype=bool)"), "copying, not reversing"),
                 Mistake(_function("reversal_alignment", "n", "np.arange(n)[:, None] + np.arange(n)[None, :] == n"),
                         "off by one"),
                 Mistake(_function("reversal_alignment", "n", "np.eye(n)[::-1]"), "not bool"),
                 Mistake(_function("reversal_alignment", "n", "np.eye(n + 1, dtype=bool)[::-1]"),
                         "has shape (6, 6), expected (5, 5)"),
                 Mistake(_function("reversal_alignment", "n", "np.ones((n, n), dtype=bool)"), "each row needs one True"),
                 Mistake(_function("reversal_alignment", "n", "np.roll(np.eye(n, dtype=bool)[::-1], 2, axis=1)"),
                         "in the wrong places"),
             )),
    Exercise(checker=check_positional_encoding, reference="attn_course.positional.sinusoidal_encoding",
             chapter="06b_transformer", solution="positional_encoding", level="implement", mistakes=(
                 Mistake(_pe_mistake("np.stack([np.cos(angles), np.sin(angles)], axis=-1).reshape(n, d)"),
                         "sine and cosine are swapped"),
                 Mistake(_pe_mistake("np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(n, d)")
                         .replace("np.arange(n)[:, None]", "np.arange(1, n + 1)[:, None]"), "the positions start at 1"),
                 Mistake(_pe_mistake("np.concatenate([np.sin(angles), np.cos(angles)], axis=1)"), "first half"),
                 Mistake(_pe_mistake("np.where(np.arange(d) % 2 == 0, np.sin(np.arange(n)[:, None] / 10000 ** "
                                     "(np.arange(d) / d)), np.cos(np.arange(n)[:, None] / 10000 ** (np.arange(d) / d)))"),
                         "each column has its own frequency"),
                 Mistake(_pe_mistake("np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(n, d)")
                         .replace("10000 **", "100 **"), "column 0 is right, the later columns are not"),
                 Mistake(_pe_mistake("np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(n, d).T"),
                         "is transposed"),
                 Mistake(_pe_mistake("np.zeros((n, d))"), "look at row 0"),
             )),
    Exercise(checker=check_transformer_masks, reference="attn_course.exercises.transformer.transformer_masks",
             chapter="06b_transformer", solution="transformer_masks", level="debug", mistakes=(
                 Mistake(_masks_mistake(decoder="np.broadcast_to(j_t < t, (len(t), n_target, n_target))"),
                         "has no causal part"),
                 Mistake(_masks_mistake(decoder="(j_t < t) & (j_t < i_t)"), "hides the diagonal"),
                 Mistake(_masks_mistake(decoder="np.broadcast_to(j_t <= i_t, (len(t), n_target, n_target))"),
                         "ignores the target's padding"),
                 Mistake(_masks_mistake(cross="np.broadcast_to(j_s < s, (len(s), n_target, n_source)) & (j_s <= i_t)"),
                         "the cross mask is causal"),
                 Mistake(_masks_mistake(cross="np.broadcast_to(j_s < t, (len(s), n_target, n_source))"),
                         "uses the TARGET lengths"),
                 Mistake(_masks_mistake(cross="np.swapaxes(np.broadcast_to(j_s < s, (len(s), n_target, n_source)), 1, 2)"),
                         "cross has shape (2, 5, 4)"),
                 Mistake(_masks_mistake(encoder="np.broadcast_to(j_s[:, None] < s, (len(s), n_source, n_source))"),
                         "hides padded QUERIES"),
                 Mistake(_masks_mistake(encoder="np.ones((len(s), n_source, n_source), dtype=bool)"),
                         "lets every query attend to the padding"),
                 Mistake(_masks_mistake(cross="np.ones((len(s), n_target, n_source), dtype=bool)"),
                         "attend to the source's padding"),
                 Mistake(_masks_mistake(encoder="np.broadcast_to(j_s >= s, (len(s), n_source, n_source))",
                                        decoder="(j_t >= t) | (j_t > i_t)",
                                        cross="np.broadcast_to(j_s >= s, (len(s), n_target, n_source))"),
                         "every mask is inverted"),
                 Mistake(_masks_mistake(decoder="((j_t < t) & (j_t <= i_t)).astype(int)"), "not bool"),
             )),
    Exercise(checker=check_perplexity, reference="attn_course.exercises.transformer.perplexity",
             chapter="06c_language_model", solution="perplexity", level="debug", mistakes=(
                 Mistake(LOG_SOFTMAX + _function("perplexity", "logits, targets", f"({NLL}).mean()"),
                         "mean negative log-likelihood"),
                 Mistake(LOG_SOFTMAX + _function("perplexity", "logits, targets", f"np.exp(({NLL}).sum())"),
                         "grows with the length"),
                 Mistake(_function("perplexity", "logits, targets",
                                   "np.exp(-logits[np.arange(len(targets)), targets].mean())"),
                         "logits as log-probabilities"),
                 Mistake(LOG_SOFTMAX + _function("perplexity", "logits, targets", f"2 ** ({NLL}).mean()"), "mixes bases"),
                 Mistake(LOG_SOFTMAX + _function("perplexity", "logits, targets",
                                                 "np.exp(-log_softmax(logits.T).T[np.arange(len(targets)), targets]"
                                                 ".mean())"), "over the predictions"),
                 Mistake(LOG_SOFTMAX + _function("perplexity", "logits, targets", f"1 / np.exp(-({NLL})).mean()"),
                         "averaged the probabilities"),
                 Mistake(LOG_SOFTMAX + _function("perplexity", "logits, targets", f"np.exp({NLL})"),
                         "expected one number"),
                 Mistake("def perplexity(logits, targets):\n    p = np.exp(logits) / np.exp(logits).sum(axis=-1, "
                         "keepdims=True)\n    return np.exp(-np.log(p[np.arange(len(targets)), targets]).mean())\n",
                         "adding 1000 to every logit"),                                                # overflow
             )),
    Exercise(checker=check_induction_scores, reference="attn_course.readout.induction_scores",
             chapter="06c_language_model", solution="induction_scores", level="implement", mistakes=(
                 Mistake(_function("induction_scores", "weights, period",
                                   f"weights[..., {T}, {T} - period].mean(axis=-1)"), "duplicate-token"),
                 Mistake(_function("induction_scores", "weights, period",
                                   f"weights[..., {T}, {T} - period + 2].mean(axis=-1)"), "off by one"),
                 Mistake(_function("induction_scores", "weights, period",
                                   "weights[..., np.arange(period - 1, 2 * period), np.arange(period - 1, 2 * period)"
                                   " - period + 1].mean(axis=-1)"), "the queries run from p - 1"),
                 Mistake(_function("induction_scores", "weights, period",
                                   f"weights[..., {T}, {T} - 1].mean(axis=-1)"), "previous-token head"),
                 Mistake(_function("induction_scores", "weights, period",
                                   f"weights[..., {T} - period + 1, {T}].mean(axis=-1)"), "query and key are swapped"),
                 Mistake(_function("induction_scores", "weights, period",
                                   f"weights[..., {T}, {T} - period + 1].mean(axis=-1).T"), "is transposed"),
                 Mistake(_function("induction_scores", "weights, period", f"weights[..., {T}, {T} - period + 1]"),
                         "one score per head"),
             )),
    Exercise(checker=check_causal_mask, reference="attn_course.attention.causal_mask",
             chapter="06c_language_model", solution="causal_mask", level="debug", mistakes=(
                 Mistake(_function("causal_mask", "n", "np.triu(np.ones((n, n), dtype=bool))"), "upper triangle"),
                 Mistake(_function("causal_mask", "n", f"~{TRIL})"), "the mask is inverted"),
                 Mistake(_function("causal_mask", "n", "np.ones((n, n), dtype=bool)"), "no mask at all"),
                 Mistake(_function("causal_mask", "n", f"{TRIL}, -1)"), "the diagonal is hidden"),
                 Mistake(_function("causal_mask", "n", "np.tril(np.ones((n, n)))"), "not bool"),
                 Mistake(_function("causal_mask", "n", f"{TRIL}, 1)"), "differs from j <= i"),
                 Mistake(_function("causal_mask", "n", "np.ones((n, n + 1), dtype=bool)"), "expected (4, 4)"),
                 Mistake(_function("causal_mask", "n", f"{TRIL}) if n < 8 else np.ones((n, n), dtype=bool)"),
                         "the model can read the future"),
             )),
    Exercise(checker=check_changed_prediction, reference="attn_course.exercises.transformer.CHANGED",
             chapter="06c_language_model", solution="changed", level="predict", points=1,
             mistakes=(Mistake("changed = 24", "is every position"),
                       Mistake("changed = 13", "leaves out one position"),
                       Mistake("changed = 10", "counts the positions BEFORE the edit"))),
    Exercise(checker=check_ideal_perplexity, reference="attn_course.exercises.transformer.ideal_perplexity",
             chapter="06c_language_model", solution="copier_perplexity", level="derive", points=2,
             mistakes=(Mistake("def copier_perplexity(period, vocab_size):\n"
                               "    return vocab_size ** ((period - 1) / (2 * period - 1))", "one unpredictable"),
                       Mistake("def copier_perplexity(period, vocab_size):\n"
                               "    return vocab_size ** (period / (2 * period))", "over how many predictions"),
                       Mistake("def copier_perplexity(period, vocab_size):\n"
                               "    return (period * vocab_size + period - 1) / (2 * period - 1)",
                               "mean of the per-token perplexities"))),
    Exercise(checker=check_kv_cache, reference="attn_course.exercises.transformer.kv_cached_logits",
             chapter="06c_language_model", solution="cached_logits", level="hard", points=3,
             mistakes=(Mistake("def cached_logits(model, ids):\n"
                               "    return torch.cat([model(ids[None, :t + 1])[0][0, -1:] for t in range(len(ids))])",
                               "called the whole model"),
                       Mistake("def cached_logits(model, ids):\n    x = model.embed(ids[None])\n"
                               "    for block in model.blocks:\n        x, _ = block(x, causal=True)\n"
                               "    return model.head(model.norm(x))[0]", "computed queries for 20 positions"),
                       Mistake(_KV_TRY.format(pe="embed.pe[0]", scale=" / q.shape[-1] ** 0.5"),
                               "WHERE the new token stands"),
                       Mistake(_KV_TRY.format(pe="embed.pe[t]", scale=""), "compare your scores"))),
    Exercise(checker=check_cross_shape, reference="attn_course.exercises.transformer.CROSS_SHAPE",
             chapter="06b_transformer", solution="shape", level="predict", points=1,
             mistakes=(Mistake("shape = (3, 2, 4, 8, 5)", "the last two axes are the wrong way round"),
                       Mistake("shape = (3, 4, 5, 8)", "has 4 axes"),
                       Mistake("shape = (3, 2, 4, 8, 8)", "how many target positions"))),
    Exercise(checker=check_decoder_params, reference="attn_course.exercises.transformer.decoder_layer_params",
             chapter="06b_transformer", solution="decoder_params", level="derive", points=2,
             mistakes=(Mistake("def decoder_params(d, h, d_ff):\n"
                               "    return 2 * 4 * h * (d * d + d) + 2 * d * d_ff + d_ff + d + 6 * d",
                               "grows with the number of heads"),
                       Mistake("def decoder_params(d, h, d_ff):\n    return 8 * (d * d + d) + 2 * d * d_ff + d_ff + d",
                               "a gain and a bias"),
                       Mistake("def decoder_params(d, h, d_ff):\n    return 8 * d * d + 2 * d * d_ff + 6 * d",
                               "what else does an nn.Linear learn"),
                       Mistake("def decoder_params(d, h, d_ff):\n"
                               "    return 4 * (d * d + d) + 2 * d * d_ff + d_ff + d + 6 * d", "one attention short"))),
    Exercise(checker=check_cross_by_hand, reference="attn_course.exercises.transformer.cross_weights_by_hand",
             chapter="06b_transformer", solution="cross_weights", level="hard", points=3,
             mistakes=(Mistake(_CROSS_TRY.format(sublayer=_SUBLAYER, query="y", scale=" / q.shape[-1] ** 0.5"),
                               "before the cross-attention's"),
                       Mistake(_CROSS_TRY.format(sublayer="", query="block.norm_2(y)", scale=" / q.shape[-1] ** 0.5"),
                               "what comes before the cross-attention"),
                       Mistake(_CROSS_TRY.format(sublayer=_SUBLAYER, query="block.norm_2(y)", scale=""),
                               "too peaked"))),
]
