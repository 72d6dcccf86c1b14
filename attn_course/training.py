"""Training, and the shipped weights: one deterministic loop for every model of the course.

    from attn_course import training            (imports torch; `import attn_course` alone does not)

    RECIPES     name -> Recipe: how to build the model, its data, how to draw a minibatch, the optimiser's
                settings. Chapter 6: "translation", "sentiment", "vit", "speech"; chapters 6b and 6c:
                "reverse" (a Transformer reversing digit strings), "tales" (a GPT on parrot tales), "masked" (a
                masked language model on the same tales)
    train(name) the model trained from its seed, deterministically (one thread, float64 arithmetic,
                deterministic algorithms): the same seed gives bitwise the same weights on a machine
    load(name)  the model with the weights shipped in attn_course/weights/ (written by save(name):
                plain float32 arrays, read back with allow_pickle=False)

Both return the model in float64 holding float32 values: the figures a chapter prints then come out the
same on any CPU or GPU (float32 arithmetic would differ from one BLAS kernel to another in the digits the
chapters print). scripts/train_applications.py and scripts/train_transformers.py remake the weights.
"""
import contextlib
import time
from collections import namedtuple
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import data, sequences, transformer
from ._checks import nonnegative_int, positive_int
from .models import SentimentClassifier, Seq2Seq, TinyViT
from .transformer import GPT, Transformer

WEIGHTS = Path(__file__).resolve().parent / "weights"


# ---------------------------------------------------------------------------------------------------
# Minibatches: the inputs and targets of a split, as tensors, drawn in an order fixed by the seed

def tensors(name, part, device="cpu", dtype=torch.float64):
    """(inputs, targets) of one split of application `name`, as tensors; features in `dtype`."""
    check_name(name)
    if name == "translation":
        return torch.from_numpy(part.source).to(device), torch.from_numpy(part.target).to(device)
    if name == "sentiment":
        return torch.from_numpy(part.ids).to(device), torch.from_numpy(part.labels).to(device)
    if name == "vit":
        return torch.from_numpy(part.images).to(device, dtype), torch.from_numpy(part.labels).to(device)
    if name == "speech":
        return torch.from_numpy(part.spectrograms).to(device, dtype), torch.from_numpy(part.keys).to(device)
    raise ValueError(f"name must be one of the applications {APPLICATIONS}, got {name!r}")


def epochs(name):
    """Minibatches of an application: the training set shuffled, taken in order, reshuffled when used up."""
    def batches(part, rng, size, model, device):
        x, y = tensors(name, part, device)
        order, at = rng.permutation(len(x)), 0
        while True:
            if at + size > len(order):
                order, at = rng.permutation(len(x)), 0
            rows = torch.from_numpy(order[at:at + size]).to(device)
            at += size
            yield x[rows], y[rows]
    return batches


def reversals(part, rng, size, model, device):
    """Minibatches of digit strings and their reversals, drawn at random."""
    source, target = torch.from_numpy(part.source), torch.from_numpy(part.target)
    while True:
        rows = torch.from_numpy(rng.choice(len(part.source), size, replace=False))
        yield source[rows].to(device), target[rows].to(device)


def masked_windows(stream, rng, size, model, device):
    """Minibatches of max_len tokens of the corpus with MASKED_RATE of them hidden as BERT hides them
    (transformer.mask_tokens): the inputs, and targets holding the hidden tokens (-100, ignored, elsewhere)."""
    while True:
        starts = rng.integers(0, len(stream) - model.max_len - 1, size=size)
        w = np.stack([stream[s:s + model.max_len + 1] for s in starts])
        yield tuple(torch.from_numpy(a).to(device)
                    for a in transformer.mask_tokens(w[:, :-1], rng, rate=transformer.MASKED_RATE))


def windows(stream, rng, size, model, device):
    """Minibatches of max_len tokens of the corpus (inputs) and the same windows one token later (targets)."""
    while True:
        starts = rng.integers(0, len(stream) - model.max_len - 1, size=size)
        w = torch.from_numpy(np.stack([stream[s:s + model.max_len + 1] for s in starts])).to(device)
        yield w[:, :-1], w[:, 1:]


# ---------------------------------------------------------------------------------------------------
# The recipes

Recipe = namedtuple("Recipe", "model data batches teacher_forcing steps batch lr seed file")
"""model(**options) -> a new nn.Module; data() -> (train, test); batches(train, rng, batch, model, device)
-> an endless iterator of (inputs, targets); teacher_forcing: the model reads the targets too (model(x, y));
steps, batch, lr, seed: the training that made the shipped weights; file: their name in WEIGHTS."""

RECIPES = {
    "translation": Recipe(lambda: Seq2Seq(len(data.DATE_TARGET_VOCAB), n_in=len(data.DATE_SOURCE_VOCAB)),
                          lambda: data.date_split(seed=0), epochs("translation"), True, 150, 64, 1e-2, 0,
                          "translation.npz"),
    "sentiment": Recipe(SentimentClassifier, lambda: data.sentiment_split(seed=0), epochs("sentiment"), False,
                        600, 64, 1e-2, 0, "sentiment.npz"),
    "vit": Recipe(TinyViT, lambda: data.digits_split(seed=0), epochs("vit"), False, 400, 64, 6e-3, 0, "vit.npz"),
    "speech": Recipe(lambda: Seq2Seq(len(data.DTMF_KEYS), d_in=data.FREQ_BINS.stop - data.FREQ_BINS.start,
                                     bidirectional=False),
                     lambda: data.dtmf_split(seed=0), epochs("speech"), True, 400, 64, 1e-2, 0, "speech.npz"),
    "reverse": Recipe(lambda **kw: Transformer(10, 10, **kw), lambda: sequences.reverse_split(seed=0), reversals,
                      True, 300, 64, 3e-3, 0, "transformer_reverse.npz"),
    # Induction heads appear suddenly, after a plateau whose length varies with the seed: with seed 1 they
    # have formed after 800 steps, with seed 0 not yet (they have after 1200; measured with
    # `scripts/train_transformers.py tales --seed 0 --steps 1200`). Seed 1 keeps the training near half a
    # minute of CPU time.
    "tales": Recipe(lambda **kw: GPT(len(sequences.TALE_VOCAB), **kw), lambda: sequences.tale_split(seed=0),
                    windows, False, 800, 32, 5e-3, 1, "gpt_tales.npz"),
    # The same model with no mask and one more token, [MASK], trained on the same tales to restore hidden
    # tokens. It learns only from the hidden 30%, so it takes more steps to copy: at 1600 steps it restored a
    # hidden word the parrot repeats about a third of the time, at 3000 about two thirds (evaluation.restored).
    "masked": Recipe(lambda **kw: GPT(len(sequences.TALE_VOCAB) + 1, mask=transformer.bidirectional_mask, **kw),
                     lambda: sequences.tale_split(seed=0), masked_windows, False, 3000, 32, 5e-3, 0,
                     "masked_tales.npz"),
}
APPLICATIONS = ("translation", "sentiment", "vit", "speech")  # chapter 6's; the other two are chapter 6b's and 6c's


def check_name(name):
    """The Recipe of model `name`, or a clear error."""
    if name not in RECIPES:
        raise ValueError(f"name must be one of {sorted(RECIPES)}, got {name!r}")
    return RECIPES[name]


# ---------------------------------------------------------------------------------------------------
# The loop

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


def loss_of(recipe, model, x, y):
    """Mean cross-entropy of the targets: every output token, or the label."""
    logits = model(x, y)[0] if recipe.teacher_forcing else model(x)[0]       # (B, T, V) or (B, V)
    return nn.functional.cross_entropy(logits.flatten(0, -2), y.flatten())


def train(name, seed=None, steps=None, device="cpu", verbose=False, **options):
    """Train model `name` (one of RECIPES) from scratch; options go to the model (e.g. positional=False).

    seed and steps default to the recipe's, which made the shipped weights. Deterministic:
    torch.manual_seed(seed) for the initial weights, a NumPy generator seeded with `seed` for the
    minibatches, float64 arithmetic, one thread. Adam, the gradient clipped to norm 1, the learning rate
    constant for 60% of the steps, then falling linearly to zero (a short run settles into a minimum).
    Returns the model as load() does: float32 values in float64, in eval mode; its attribute `seconds`
    holds the training time (wall clock)."""
    recipe = check_name(name)
    steps = positive_int(recipe.steps if steps is None else steps, "steps")
    seed = nonnegative_int(recipe.seed if seed is None else seed, "seed")
    start = time.perf_counter()
    with deterministic():
        torch.manual_seed(seed)
        model = recipe.model(**options).to(device=device, dtype=torch.float64)
        train_part = recipe.data()[0]
        optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, 2.5 * (1 - step / steps)))
        batches = recipe.batches(train_part, np.random.default_rng(seed), recipe.batch, model, device)
        model.train()
        for step in range(steps):
            x, y = next(batches)
            loss = loss_of(recipe, model, x, y)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # a rare large gradient cannot throw the model off
            optimizer.step()
            schedule.step()
            if verbose and (step + 1) % 100 == 0:
                print(f"{name}: step {step + 1:4d}  loss {loss.item():.4f}  ({time.perf_counter() - start:.1f} s)")
    model = model.float().double().eval()  # the shipped weights' float32 values, computed with in float64
    model.seconds = time.perf_counter() - start
    return model


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


def load(name, device="cpu"):
    """Model `name` with its shipped weights (attn_course/weights/), in eval mode, computing in float64."""
    recipe = check_name(name)
    return load_weights(recipe.model(), WEIGHTS / recipe.file).to(device, torch.float64).eval()


def save(name, model):
    """Write `model`'s weights where load(name) reads them; returns the path."""
    path = WEIGHTS / check_name(name).file
    save_weights(model, path)
    return path
