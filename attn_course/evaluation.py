"""Running the trained models on held-out data, returning NumPy arrays for attn_course.readout and viz.

    from attn_course import evaluation          (imports torch; `import attn_course` alone does not)

    evaluate(name, model)     chapter 6's applications: predictions and attention on the test split (a Result)
    occlusion(model, ...)     how much a TinyViT's confidence drops when each patch is blanked
    reverse_accuracy          chapter 6b: strings reversed entirely right, and digits right
    token_losses, perplexity  chapter 6c: the language model's loss on every token of a stream
    induction_probe           chapter 6c: the model on repeated random tokens (a Probe)
"""
import numpy as np
import torch
from torch import nn

from . import sequences, transformer
from .readout import Probe, Result, induction_scores
from .training import APPLICATIONS, check_name, tensors


# ---------------------------------------------------------------------------------------------------
# Chapter 6: the applications

@torch.no_grad()
def evaluate(name, model, part=None, device=None):
    """Run `model` on the held-out split of application `name` (or on `part`); returns a Result (NumPy)."""
    recipe = check_name(name)
    if name not in APPLICATIONS:
        raise ValueError(f"name must be one of the applications {APPLICATIONS}, got {name!r}")
    part = recipe.data()[1] if part is None else part
    device = next(model.parameters()).device if device is None else device
    model.eval()
    x, y = tensors(name, part, device, next(model.parameters()).dtype)
    if name in ("translation", "speech"):
        predictions, weights = model.generate(x, y.shape[1])
        alignment = part.alignment
    elif name == "sentiment":
        logits, weights = model(x)
        predictions, alignment = logits.argmax(-1), part.carriers
    else:
        logits, weights = model(x)
        predictions, alignment = logits.argmax(-1), None
    return Result(name, x.cpu().numpy(), y.cpu().numpy(), predictions.cpu().numpy(), weights.cpu().numpy(), alignment)


@torch.no_grad()
def occlusion(model, images, labels):
    """(n, grid, grid): how much the probability of the true class drops when one patch of a TinyViT's
    input is blanked (set to 0, the background), patch by patch. A measure of what the model uses that
    does not read its attention. images: (n, 8, 8) array; labels: (n,) ints."""
    device = next(model.parameters()).device
    x = torch.as_tensor(np.asarray(images), dtype=next(model.parameters()).dtype, device=device)
    rows = torch.arange(len(x), device=device)
    y = torch.as_tensor(np.asarray(labels), device=device)
    p = model.patch
    base = torch.softmax(model(x)[0], dim=-1)[rows, y]
    drops = torch.zeros(len(x), model.grid, model.grid)
    for r in range(model.grid):
        for c in range(model.grid):
            blanked = x.clone()
            blanked[:, r * p:(r + 1) * p, c * p:(c + 1) * p] = 0
            drops[:, r, c] = (base - torch.softmax(model(blanked)[0], dim=-1)[rows, y]).cpu()
    return drops.numpy()


# ---------------------------------------------------------------------------------------------------
# Chapters 6b and 6c: the Transformer and the language model

@torch.no_grad()
def reverse_accuracy(model, part):
    """(exact, per_token): the share of `part`'s strings reversed entirely right by greedy decoding, and the
    share of digits right. part: a sequences.Reversal."""
    device = next(model.parameters()).device
    predicted, _ = model.generate(torch.from_numpy(part.source).to(device), part.target.shape[1])
    right = predicted.cpu().numpy() == part.target
    return float(right.all(axis=1).mean()), float(right.mean())


@torch.no_grad()
def token_losses(model, ids):
    """(len(ids) - 1,) float64: -log p(ids[k + 1] | the tokens before it), in nats, for every token of the stream
    `ids` (1-D) but the first. The model reads windows of max_len tokens that slide by max_len // 2, and each
    token is scored once, in the first window where at least max_len // 2 tokens come before it (or all of
    them, near the start): no token is predicted from a context cut short by the edge of a window."""
    ids = torch.as_tensor(np.asarray(ids), device=next(model.parameters()).device)
    if ids.dim() != 1 or len(ids) < 2:
        raise ValueError(f"ids must be a 1-D stream of at least 2 token ids, got shape {tuple(ids.shape)}")
    n = min(model.max_len, len(ids) - 1)
    stride = max(n // 2, 1)
    starts = list(range(0, len(ids) - n, stride))                              # windows ids[s : s + n + 1]
    if starts[-1] + n + 1 < len(ids):
        starts.append(len(ids) - n - 1)                                       # the last one ends at the end
    windows = torch.stack([ids[s:s + n + 1] for s in starts])                  # (W, n + 1)
    losses = []
    for chunk in windows.split(256):                                           # batches of windows
        logits = model(chunk[:, :-1])[0]                                       # (b, n, V)
        losses.append(nn.functional.cross_entropy(logits.transpose(1, 2), chunk[:, 1:], reduction="none"))  # (b, n)
    losses = torch.cat(losses).double().cpu().numpy()                          # (W, n): window w predicts s_w + 1 + j
    scored, done = [], 0                                                       # done: tokens 1..done are scored
    for w, s in enumerate(starts):
        first = done - s                                                       # index j of token done + 1 in window w
        scored.append(losses[w, first:])
        done = s + n
    return np.concatenate(scored)


def perplexity(model, ids):
    """exp(mean negative log-likelihood per token) of the stream `ids`: see token_losses. 1 is a model that is
    always sure and right; a uniform guess over V tokens scores V."""
    return float(np.exp(token_losses(model, ids).mean()))


@torch.no_grad()
def induction_probe(model, period=10, n_sequences=20, avoid=range(len(sequences.TALE_WORDS))):
    """Run `model` (a GPT) on n_sequences sequences of `period` distinct random tokens repeated once
    (sequences.repeated_tokens with seeds 0, 1, ...; `avoid`: ids never drawn, by default the tales'
    frame words, so the probe holds only content words in an order no tale has). Returns a Probe.

    An induction head shows up as a high score; a model that copies shows up as a low loss_second:
    the second half is predictable only by copying from the first."""
    device = next(model.parameters()).device
    tokens = np.stack([sequences.repeated_tokens(period, model.vocab_size, seed=s, avoid=avoid)
                       for s in range(n_sequences)])
    ids = torch.from_numpy(tokens).to(device)                                  # (n, 2p)
    logits, weights = model(ids)                                               # (n, 2p, V), (n, L, h, 2p, 2p)
    nll = nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), ids[:, 1:], reduction="none")  # (n, 2p - 1)
    weights = weights.cpu().numpy()
    return Probe(tokens, weights, induction_scores(weights, period).mean(axis=0),
                 float(nll[:, :period - 1].mean()), float(nll[:, period:].mean()))


@torch.no_grad()
def restored(model, ids, masked, n_windows=200, n=32):
    """Hide each token of held-out text in turn and ask the model for it: (n_windows, n - 2) bool, True where its
    most likely token is the hidden one. The stream `ids` (1-D) is cut into n_windows windows of n tokens; in each,
    positions 1 .. n-2 are asked about (the same ones for both kinds of model). masked=True: a masked model reads
    the window with that one token replaced by [MASK], both sides of it; masked=False: a causal model predicts it
    from the tokens before it, as it does when it writes."""
    ids = np.asarray(ids)
    if ids.ndim != 1 or len(ids) < n_windows * n:
        raise ValueError(f"ids must be a 1-D stream of at least n_windows * n = {n_windows * n} tokens, "
                         f"got shape {ids.shape}")
    device = next(model.parameters()).device
    windows = torch.from_numpy(ids[:n_windows * n].reshape(n_windows, n)).to(device)   # (W, n)
    asked = torch.arange(1, n - 1, device=device)                                      # (n - 2,) positions
    if masked:
        guess = []
        for chunk in windows.split(16):                                                 # (w, n): a few at a time
            hidden = chunk[:, None, :].repeat(1, n - 2, 1)                              # (w, n - 2, n): one copy per
            hidden[:, asked - 1, asked] = transformer.MASK                                          # position, that one hidden
            logits = model(hidden.flatten(0, 1))[0].unflatten(0, (len(chunk), n - 2))   # (w, n - 2, n, V)
            guess.append(logits[:, asked - 1, asked].argmax(-1))                        # (w, n - 2)
        guess = torch.cat(guess)
    else:
        guess = model(windows)[0][:, asked - 1].argmax(-1)                              # position p - 1 predicts p
    return (guess == windows[:, asked]).cpu().numpy()
