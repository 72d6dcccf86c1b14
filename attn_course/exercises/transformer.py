"""Checkers for the exercises of the Transformer chapters (6b: the encoder–decoder, 6c: the language model).

    check_reversal_alignment(fn)    fn(n) -> (n, n) bool: which source token each target token of a reversal copies
    check_positional_encoding(fn)   fn(n_positions, d_model) -> the sinusoidal encoding (Vaswani et al., sec. 3.5)
    check_transformer_masks(fn)     fn(source_lengths, target_lengths, n_source, n_target) -> the three masks of an
                                    encoder–decoder for a padded batch
    check_causal_mask(fn)           fn(n) -> (n, n) bool, True = may attend; also run inside a small GPT
    check_perplexity(fn)            fn(logits, targets) -> exp(mean negative log-likelihood)
    check_induction_scores(fn)      fn(weights, period) -> (layers, heads) induction scores

Masks follow the package's convention: True = MAY attend. The references are the package's
sinusoidal_encoding, causal_mask and attn_course.readout.induction_scores (in a module that imports
torch: imported when the checker runs, as check_causal_mask imports torch), and reversal_alignment,
transformer_masks and perplexity, here.
"""
import numpy as np

from ..attention import causal_mask
from ..positional import sinusoidal_encoding
from .feedback import Feedback, call, checker, fail
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
             chapter="06b_transformer", solution="positional_encoding", level="debug", mistakes=(
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
             chapter="06c_language_model", solution="induction_scores", level="debug", mistakes=(
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
]
