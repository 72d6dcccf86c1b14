"""Tiny attention models for the applications of chapter 6, each trained in seconds on a CPU.

    from attn_course import models            (imports torch; `import attn_course` alone does not)

    AdditiveAttention   Bahdanau's score v^T tanh(W_q q + W_k k), as a module (attn_course.scores'
                        additive_score, on tensors)
    Seq2Seq             a bidirectional-GRU encoder and a GRU decoder that attends with AdditiveAttention
                        (Bahdanau, Cho & Bengio, ICLR 2015): dates (tokens in) and telephone tones
                        (spectrogram frames in)
    SentimentClassifier word embeddings pooled by attention with a learned query (Yang et al., NAACL 2016)
    TinyViT             a Vision Transformer (Dosovitskiy et al., ICLR 2021) for 8x8 digits, built from
                        attn_course.nn.EncoderBlock
    attention_rollout   Abnar & Zuidema's (ACL 2020) rollout of attention through the layers (NumPy)

`train(name)` retrains one of the four applications from its seed, deterministically (one thread,
float64 arithmetic, deterministic algorithms), and `load(name)` returns the model with the weights
shipped in attn_course/weights/<name>.npz, which `scripts/train_applications.py` writes with
`save_weights`: plain float32 arrays, read back with allow_pickle=False. Both return the model in
float64 holding float32 values: the figures a chapter prints then come out the same on any CPU or GPU
(float32 arithmetic would differ from one BLAS kernel to another in the digits the chapters print).
"""
import contextlib
import time
from collections import namedtuple
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import torch
from torch import nn

from . import data, viz
from .nn import EncoderBlock
from .widgets import _Explorer

WEIGHTS = Path(__file__).resolve().parent / "weights"


def _int_tokens(ids, name, vocab_size):
    """Refuse anything but a (batch, n) integer tensor of ids in [0, vocab_size) with n >= 1."""
    if not isinstance(ids, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of token ids, got {type(ids).__name__}")
    if ids.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"{name} must hold integer token ids (torch.int64), got dtype {ids.dtype}")
    if ids.dim() != 2 or ids.shape[1] == 0:
        raise ValueError(f"{name} must have shape (batch, n) with n >= 1 tokens, got shape {tuple(ids.shape)}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"{name} must hold ids in [0, {vocab_size}) for this model's vocabulary of {vocab_size} "
                         f"tokens, got ids from {int(ids.min())} to {int(ids.max())} (a different vocabulary?)")
    return ids.long()


def _features(x, name, d_in):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of features, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor of features, got dtype {x.dtype}")
    if x.dim() != 3 or x.shape[1] == 0 or x.shape[2] != d_in:
        raise ValueError(f"{name} must have shape (batch, n, {d_in}) with n >= 1 frames, got shape {tuple(x.shape)}")
    return x


# ---------------------------------------------------------------------------------------------------
# Additive attention and the modules built on it

class AdditiveAttention(nn.Module):
    """score(q, k_j) = v^T tanh(W_q q + W_k k_j); weights = softmax over j; output = sum_j weights_j v_j.

    The same function as attn_course.additive_score(q, k, W_q.weight.T, W_k.weight.T, v.weight[0]):
    nn.Linear stores (out, in) matrices and computes x @ weight.T. No biases, as in Bahdanau et al.'s
    appendix A.1.2.
    forward(q: (batch, d_q), k: (batch, n, d_k), v: (batch, n, d_v) = k, mask: (batch, n) bool = None)
        -> output (batch, d_v), weights (batch, n). mask True = may attend.
    """

    def __init__(self, d_q, d_k, d_a):
        super().__init__()
        self.W_q = nn.Linear(d_q, d_a, bias=False)
        self.W_k = nn.Linear(d_k, d_a, bias=False)
        self.v = nn.Linear(d_a, 1, bias=False)

    def scores(self, q, k):
        """(batch, n): one score per key; q: (batch, d_q), k: (batch, n, d_k)."""
        return self.v(torch.tanh(self.W_q(q)[:, None, :] + self.W_k(k))).squeeze(-1)

    def forward(self, q, k, v=None, mask=None):
        v = k if v is None else v
        scores = self.scores(q, k)
        if mask is not None:
            if mask.shape != scores.shape or mask.dtype != torch.bool:
                raise ValueError(f"mask must be a bool tensor of shape (batch, n) = {tuple(scores.shape)}, "
                                 f"got {mask.dtype} of shape {tuple(mask.shape)}")
            if not mask.any(dim=-1).all():
                raise ValueError("mask hides every key of some sequence: each needs at least one True")
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        return (weights[:, :, None] * v).sum(dim=1), weights


class Seq2Seq(nn.Module):
    """Bahdanau et al.'s RNNsearch, small: the decoder state s_{i-1} queries the encoder states h_j.

        e_ij = v^T tanh(W s_{i-1} + U h_j),  a_ij = softmax_j(e_ij),  c_i = sum_j a_ij h_j
        s_i = GRU(s_{i-1}, [embed(y_{i-1}); c_i]),   p(y_i) = softmax(Linear([s_i; c_i]))

    The input is tokens (n_in: the source vocabulary size) or feature frames (d_in: their width).
    The decoder starts from zeros: all it learns about the source passes through the attention.
    Outputs are ids 0..n_out-1; the decoder's first input is an extra id, n_out ("begin").
    """

    def __init__(self, n_out, *, n_in=None, d_in=None, d_embed=16, d_hidden=32, d_attn=32, bidirectional=True):
        super().__init__()
        if (n_in is None) == (d_in is None):
            raise ValueError(f"give exactly one of n_in (a source vocabulary size) and d_in (a feature width), "
                             f"got n_in={n_in!r}, d_in={d_in!r}")
        self.n_in, self.d_in, self.n_out = n_in, d_in, n_out
        self.embed_in = nn.Embedding(n_in, d_embed) if n_in is not None else nn.Linear(d_in, d_embed)
        self.encoder = nn.GRU(d_embed, d_hidden, batch_first=True, bidirectional=bidirectional)
        d_h = (2 if bidirectional else 1) * d_hidden + d_embed  # an annotation: the GRU's state(s) and the input
        self.attention = AdditiveAttention(d_hidden, d_h, d_attn)
        self.embed_out = nn.Embedding(n_out + 1, d_embed)
        self.decoder = nn.GRUCell(d_embed + d_h, d_hidden)
        self.out = nn.Linear(d_hidden + d_h, n_out)
        self.d_hidden = d_hidden

    def encode(self, source):
        """(batch, n) ids or (batch, n, d_in) frames -> (batch, n, d_h) annotations h_j: the encoder GRU's
        state(s) at position j, and the embedded input x_j itself (so that h_j says what is *at* j)."""
        if self.n_in is not None:
            source = _int_tokens(source, "source", self.n_in)
        else:
            source = _features(source, "source", self.d_in)
        x = self.embed_in(source)
        return torch.cat([self.encoder(x)[0], x], dim=-1)

    def forward(self, source, target):
        """Teacher forcing: the decoder reads the true previous output. target: (batch, T) ids.
        Returns logits (batch, T, n_out) and attention weights (batch, T, n)."""
        h = self.encode(source)
        target = _int_tokens(target, "target", self.n_out)
        return self._decode(h, target.shape[1], target)

    @torch.no_grad()
    def generate(self, source, length):
        """Greedy decoding of `length` outputs: ids (batch, length) and weights (batch, length, n)."""
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ValueError(f"length must be a positive int, got {length!r}")
        logits, weights = self._decode(self.encode(source), length, None)
        return logits.argmax(-1), weights

    def _decode(self, h, length, target):
        batch = h.shape[0]
        state = h.new_zeros(batch, self.d_hidden)
        previous = torch.full((batch,), self.n_out, dtype=torch.long, device=h.device)  # "begin"
        all_logits, all_weights = [], []
        for i in range(length):
            context, weights = self.attention(state, h)
            state = self.decoder(torch.cat([self.embed_out(previous), context], dim=-1), state)
            logits = self.out(torch.cat([state, context], dim=-1))
            all_logits.append(logits)
            all_weights.append(weights)
            previous = target[:, i] if target is not None else logits.argmax(-1)
        return torch.stack(all_logits, 1), torch.stack(all_weights, 1)


class AttentionPooling(nn.Module):
    """Attention with a learned query u: a_j = softmax_j(v^T tanh(W_q u + W_k h_j)), pooled = sum_j a_j h_j.

    W_q u is one learned vector: this is Yang et al.'s word attention, v^T tanh(W h_j + b), with the
    query folded into the bias. forward(h: (batch, n, d), mask: (batch, n) bool) -> pooled (batch, d),
    weights (batch, n)."""

    def __init__(self, d, d_attn):
        super().__init__()
        self.query = nn.Parameter(torch.zeros(d))
        self.attention = AdditiveAttention(d, d, d_attn)

    def forward(self, h, mask=None):
        return self.attention(self.query.expand(h.shape[0], -1), h, mask=mask)


class SentimentClassifier(nn.Module):
    """Word embeddings -> attention pooling -> 3 logits (negative, neutral, positive). Padding (id 0) is
    masked. forward(ids: (batch, n)) -> logits (batch, 3), weights (batch, n)."""

    def __init__(self, n_words=len(data.SENTIMENT_VOCAB), d_embed=16, d_attn=16):
        super().__init__()
        self.n_words = n_words
        self.embed = nn.Embedding(n_words, d_embed, padding_idx=0)
        self.pool = AttentionPooling(d_embed, d_attn)
        self.out = nn.Linear(d_embed, len(data.SENTIMENT_LABELS))

    def forward(self, ids):
        ids = _int_tokens(ids, "ids", self.n_words)
        mask = ids != 0
        if not mask.any(dim=-1).all():
            raise ValueError("ids holds a sentence of padding only; every sentence needs at least one word")
        pooled, weights = self.pool(self.embed(ids), mask)
        return self.out(pooled), weights


class TinyViT(nn.Module):
    """A Vision Transformer for 8x8 images: 2x2-pixel patches (16 tokens) plus a [class] token,
    learned position embeddings, pre-norm encoder blocks (attn_course.nn.EncoderBlock), and a linear
    head on the [class] token. forward(images: (batch, 8, 8)) -> logits (batch, 10),
    weights (batch, layers, heads, 17, 17); token 0 is [class], token 1 + 4 r + c the patch in row r, column c."""

    def __init__(self, image=8, patch=2, d_model=32, n_heads=4, n_layers=2, n_classes=10):
        super().__init__()
        if image % patch:
            raise ValueError(f"patch must divide image: got image={image}, patch={patch}")
        self.image, self.patch = image, patch
        self.grid = image // patch
        self.embed = nn.Linear(patch * patch, d_model)
        self.cls = nn.Parameter(torch.zeros(1, 1, d_model))
        self.position = nn.Parameter(0.02 * torch.randn(1, self.grid ** 2 + 1, d_model))
        self.blocks = nn.ModuleList(EncoderBlock(d_model, n_heads, d_ff=2 * d_model) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, n_classes)

    def patches(self, images):
        """(batch, H, W) -> (batch, grid * grid, patch * patch), row by row."""
        b, g, p = images.shape[0], self.grid, self.patch
        return images.reshape(b, g, p, g, p).permute(0, 1, 3, 2, 4).reshape(b, g * g, p * p)

    def forward(self, images):
        if not isinstance(images, torch.Tensor) or not images.is_floating_point():
            raise TypeError(f"images must be a floating-point torch.Tensor, got "
                            f"{getattr(images, 'dtype', type(images).__name__)}")
        if images.dim() != 3 or images.shape[1:] != (self.image, self.image):
            raise ValueError(f"images must have shape (batch, {self.image}, {self.image}), got {tuple(images.shape)}")
        x = self.embed(self.patches(images))
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.position
        weights = []
        for block in self.blocks:
            x, w = block(x)
            weights.append(w)
        return self.head(self.norm(x[:, 0])), torch.stack(weights, dim=1)


# ---------------------------------------------------------------------------------------------------
# Reading attention: rollout and alignment accuracy (NumPy)

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
# Weights: state_dict <-> .npz of plain float32 arrays

def save_weights(model, path):
    """Write the model's parameters and buffers to `path` (.npz), one float32 array per state_dict entry."""
    arrays = {name: t.detach().cpu().float().numpy() for name, t in model.state_dict().items()}
    np.savez_compressed(path, **arrays)


def load_weights(model, path):
    """Read weights written by save_weights into `model` (names and shapes must match); returns the model."""
    with np.load(path, allow_pickle=False) as arrays:
        state = model.state_dict()
        missing, extra = set(state) - set(arrays.files), set(arrays.files) - set(state)
        if missing or extra:
            raise ValueError(f"{path} does not fit {type(model).__name__}: missing {sorted(missing)}, "
                             f"unexpected {sorted(extra)}")
        for name, tensor in state.items():
            if arrays[name].shape != tuple(tensor.shape):
                raise ValueError(f"{path}: {name} has shape {arrays[name].shape}, the model expects {tuple(tensor.shape)}")
        model.load_state_dict({name: torch.from_numpy(arrays[name]).to(state[name].dtype) for name in state})
    return model


# ---------------------------------------------------------------------------------------------------
# The four applications: their data, model, training recipe

def _translation_model():
    return Seq2Seq(len(data.DATE_TARGET_VOCAB), n_in=len(data.DATE_SOURCE_VOCAB))


def _speech_model():
    return Seq2Seq(len(data.DTMF_KEYS), d_in=data.FREQ_BINS.stop - data.FREQ_BINS.start, bidirectional=False)


Recipe = namedtuple("Recipe", "model data steps batch lr")
RECIPES = {
    "translation": Recipe(_translation_model, lambda: data.date_split(seed=0), 150, 64, 1e-2),
    "sentiment": Recipe(SentimentClassifier, lambda: data.sentiment_split(seed=0), 600, 64, 1e-2),
    "vit": Recipe(TinyViT, lambda: data.digits_split(seed=0), 400, 64, 6e-3),
    "speech": Recipe(_speech_model, lambda: data.dtmf_split(seed=0), 400, 64, 1e-2),
}


def _check_name(name):
    if name not in RECIPES:
        raise ValueError(f"name must be one of {sorted(RECIPES)}, got {name!r}")
    return RECIPES[name]


def _tensors(name, part, device, dtype):
    """The model's inputs and targets for one split, as tensors."""
    if name == "translation":
        return torch.from_numpy(part.source).to(device), torch.from_numpy(part.target).to(device)
    if name == "sentiment":
        return torch.from_numpy(part.ids).to(device), torch.from_numpy(part.labels).to(device)
    if name == "vit":
        return torch.from_numpy(part.images).to(device, dtype), torch.from_numpy(part.labels).to(device)
    return torch.from_numpy(part.spectrograms).to(device, dtype), torch.from_numpy(part.keys).to(device)


def _loss(name, model, x, y):
    if name in ("translation", "speech"):
        logits, _ = model(x, y)
        return nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
    logits, _ = model(x)
    return nn.functional.cross_entropy(logits, y)


@contextlib.contextmanager
def deterministic():
    """One thread, deterministic algorithms: the same seed gives bitwise the same training on a machine."""
    threads, strict = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(strict)


def train(name, seed=0, steps=None, device="cpu", verbose=False):
    """Train application `name` ("translation", "sentiment", "vit", "speech") from scratch.

    Deterministic: torch.manual_seed(seed) for the initial weights, a NumPy generator seeded with `seed`
    for the order of the minibatches, float64 arithmetic (so that rounding differences between CPUs
    stay far below float32 resolution), one thread. Returns the model as load() does: float32 values in
float64, in eval mode."""
    recipe = _check_name(name)
    steps = recipe.steps if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    start = time.perf_counter()
    with deterministic():
        torch.manual_seed(seed)
        model = recipe.model().to(device=device, dtype=torch.float64)
        x, y = _tensors(name, recipe.data()[0], device, torch.float64)
        optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
        # constant for 60% of the steps, then falling linearly to zero: a short run settles into a minimum
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, 2.5 * (1 - step / steps)))
        rng = np.random.default_rng(seed)
        order, at = rng.permutation(len(x)), 0
        model.train()
        for step in range(steps):
            if at + recipe.batch > len(order):
                order, at = rng.permutation(len(x)), 0
            batch = torch.from_numpy(order[at:at + recipe.batch]).to(device)
            at += recipe.batch
            loss = _loss(name, model, x[batch], y[batch])
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # a rare large gradient cannot throw the model off
            optimizer.step()
            schedule.step()
            if verbose and (step + 1) % 100 == 0:
                print(f"{name}: step {step + 1:4d}  loss {loss.item():.4f}  ({time.perf_counter() - start:.1f} s)")
    return model.float().double().eval()  # the shipped weights' float32 values, computed with in float64


def load(name, device="cpu"):
    """The model of application `name` with its shipped weights (attn_course/weights/<name>.npz), in eval mode,
    computing in float64 (see the module's docstring)."""
    recipe = _check_name(name)
    return load_weights(recipe.model(), WEIGHTS / f"{name}.npz").to(device, torch.float64).eval()


# ---------------------------------------------------------------------------------------------------
# Held-out results: predictions, attention and the truth, ready to print and draw

Result = namedtuple("Result", "name inputs truth predictions weights alignment")
"""inputs: what the model read (ids, images or spectrograms); truth: the right outputs; predictions;
weights: the attention to draw; alignment: the true alignment (bool, like weights) or None."""


@torch.no_grad()
def evaluate(name, model, part=None, device=None):
    """Run `model` on the held-out split of application `name` (or on `part`); returns a Result (NumPy)."""
    _check_name(name)
    part = RECIPES[name].data()[1] if part is None else part
    device = next(model.parameters()).device if device is None else device
    model.eval()
    x, y = _tensors(name, part, device, next(model.parameters()).dtype)
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


def accuracy(result):
    """Share of held-out examples the model gets entirely right (every output token, or the label)."""
    right = result.predictions == result.truth
    return float(right.reshape(len(right), -1).all(axis=1).mean())


def carrier_rate(result):
    """Sentiment: share of the sentences with a sentiment word whose largest attention weight is on one."""
    has = result.alignment.any(axis=1)
    return alignment_accuracy(result.weights[has], result.alignment[has])


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


def rank_agreement(maps, importance):
    """Mean over examples of the Spearman rank correlation between two (n, ...) stacks of maps
    (1: the same order of patches, 0: unrelated, -1: reversed)."""
    from scipy.stats import spearmanr  # scipy comes with scikit-learn

    a, b = np.asarray(maps).reshape(len(maps), -1), np.asarray(importance).reshape(len(importance), -1)
    if a.shape != b.shape:
        raise ValueError(f"maps and importance must have the same shape, got {a.shape} and {b.shape}")
    return float(np.mean([spearmanr(x, y).statistic for x, y in zip(a, b)]))


# ---------------------------------------------------------------------------------------------------
# Pictures of one example, and an explorer that picks the example

def cls_maps(result, i):
    """ViT example i: (raw, rollout), each (4, 4), the [class] token's attention over the 16 patches in
    the last layer (heads averaged) and rolled out through all layers, rescaled to sum to 1."""
    w = result.weights[i]                          # (layers, heads, 17, 17)
    raw = w[-1].mean(axis=0)[0, 1:]
    rolled = attention_rollout(w)[0, 1:]
    grid = int(round(np.sqrt(len(raw))))
    return (raw / raw.sum()).reshape(grid, grid), (rolled / rolled.sum()).reshape(grid, grid)


def draw_example(figure, result, i):
    """Draw example i of a Result on `figure` (cleared first), in the picture for its application."""
    figure.clear()
    name = result.name
    if name == "translation":
        source = data.decode(result.inputs[i], data.DATE_SOURCE_VOCAB)
        predicted = data.decode(result.predictions[i], data.DATE_TARGET_VOCAB)
        ax = figure.add_subplot()
        viz.alignment(result.weights[i], source, predicted, ax=ax, true_alignment=result.alignment[i])
        mark = "right" if (result.predictions[i] == result.truth[i]).all() else "wrong"
        ax.set_title(f"{''.join(source)} → {' '.join(predicted)}  ({mark})", pad=28)
    elif name == "sentiment":
        mask = result.inputs[i] != 0
        words = data.decode(result.inputs[i][mask], data.SENTIMENT_VOCAB)
        ax = figure.add_subplot()
        bars = viz.softmax_bars(result.weights[i][mask], labels=words, ax=ax)
        for rect, carrier in zip(bars.bars, result.alignment[i][mask]):
            rect.set_color(viz.ACCENT if carrier else viz.INPUT)
        labels = data.SENTIMENT_LABELS
        ax.set(xlabel="word (red: carries the sentiment)", ylabel="attention weight",
               title=f"true: {labels[result.truth[i]]}, predicted: {labels[result.predictions[i]]}")
        ax.tick_params(axis="x", rotation=45)
    elif name == "vit":
        raw, rolled = cls_maps(result, i)
        ax_image, ax_raw, ax_roll = figure.subplots(1, 3)
        ax_image.imshow(result.inputs[i], cmap="Greys", extent=(0, 8, 8, 0))
        ax_image.set(title=f"digit {result.truth[i]}, predicted {result.predictions[i]}",
                     xlabel="x (pixels)", ylabel="y (pixels)")
        for ax, weights, title in [(ax_raw, raw, "raw attention, last layer"), (ax_roll, rolled, "attention rollout")]:
            viz.patch_overlay(result.inputs[i], weights, 2, ax=ax)
            ax.set_title(title)
    else:
        keys = [data.DTMF_KEYS[k] for k in result.predictions[i]]
        ax_spec, ax_align = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1.3, 1]})
        frames = result.inputs[i].shape[0]
        extent = (-0.5, frames - 0.5, data.FREQ_BINS.start * data.BIN_HZ, data.FREQ_BINS.stop * data.BIN_HZ)
        ax_spec.imshow(result.inputs[i].T, origin="lower", aspect="auto", extent=extent, cmap="Greys")
        ax_spec.set(ylabel="frequency (Hz)", title=f"keys pressed: {' '.join(data.DTMF_KEYS[k] for k in result.truth[i])}"
                                                   f",  decoded: {' '.join(keys)}")
        viz.heatmap(result.weights[i], y_labels=keys, ax=ax_align, annotate=False)
        ax_align.set(xlabel=f"frame ({1000 * data.FRAME_SECONDS:.0f} ms each)", ylabel="decoded key (query)")
        for row, frames_on in enumerate(result.alignment[i]):
            on = np.flatnonzero(frames_on)
            ax_align.add_patch(__import__("matplotlib").patches.Rectangle(
                (on[0] - 0.5, row - 0.5), len(on), 1, fill=False, edgecolor=viz.ACCENT, linewidth=1.5))
    return figure


FIGSIZES = {"translation": (4.6, 4.4), "sentiment": (5.5, 3.0), "vit": (9.0, 2.8), "speech": (7.0, 4.6)}


class ExampleExplorer(_Explorer):
    """A slider that picks a held-out example of a Result and redraws its picture (draw_example)."""

    def __init__(self, result, start=0):
        if not isinstance(result, Result):
            raise TypeError(f"result must be a Result from models.evaluate, got {type(result).__name__}")
        n = len(result.truth)
        if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start < n:
            raise ValueError(f"start must be an example index in [0, {n}), got {start!r}")
        self.result = result
        controls = {"example": widgets.IntSlider(value=start, min=0, max=n - 1, description="example")}
        super().__init__(controls, figsize=FIGSIZES[result.name])

    def _draw(self):
        pass  # everything is drawn in _update: a new example changes the tick labels too

    def _update(self):
        draw_example(self.figure, self.result, self.controls["example"].value)
        self.figure.tight_layout()
        self._background = None  # redraw it all

    def __repr__(self):
        return f"ExampleExplorer({self.result.name}, example={self.controls['example'].value})"
