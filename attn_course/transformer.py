"""The Transformer end to end, small: an encoder–decoder and a causal language model, each trained on a CPU.

    from attn_course import transformer          (imports torch; `import attn_course` alone does not)

Built from the package's own blocks (attn_course.nn), in the shape of Vaswani et al. (2017), fig. 1,
with the layer norm before each sublayer (pre-norm, as attn_course.nn.EncoderBlock):

- Embed         token embedding * sqrt(d_model) + the sinusoidal position encoding
                (attn_course.sinusoidal_encoding): attention alone cannot tell positions apart
- EncoderBlock  (attn_course.nn) self-attention, then a feed-forward layer, each on a residual path
- DecoderBlock  masked self-attention over the target so far (position i sees 0..i), cross-attention
                (queries from the decoder, keys and values from the encoder's output), feed-forward
- Transformer   source -> encoder stack -> memory; target -> decoder stack (reading the memory) -> logits.
                forward() is teacher forcing (the decoder reads the true previous tokens), generate() is
                greedy decoding (it reads its own)
- GPT           a decoder-only language model: EncoderBlocks under a causal mask, no cross-attention;
                generate() continues a prompt greedily or by sampling
- masked        the same GPT class with no mask at all (bidirectional_mask) and one more token, [MASK]: a
                masked language model in the manner of BERT (Devlin et al., NAACL 2019), trained to restore
                the tokens mask_tokens hid, reading both sides
Every forward also returns the attention weights of every layer and head, for the pictures.

Three trained models ship in attn_course/weights/ (plain float32 arrays, .npz):
    "reverse"   a Transformer that reverses strings of 8 digits (attn_course.sequences.reverse_split)
    "tales"     a GPT trained on generated parrot tales (attn_course.sequences.tale_split)
    "masked"    a masked language model trained on the same tales
train(name) retrains one from its seed, deterministically (attn_course.models.deterministic: one
thread, float64); load(name) reads the shipped weights (models.load_weights, allow_pickle=False). Both
return the model computing in float64, as attn_course.models explains.
"""
import math
import time
from collections import namedtuple
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import sequences, viz
from .models import _int_tokens, deterministic, load_weights, save_weights
from .nn import EncoderBlock, MultiHeadAttention, causal_mask
from .positional import sinusoidal_encoding

WEIGHTS = Path(__file__).resolve().parent / "weights"
FILES = {"reverse": "transformer_reverse.npz", "tales": "gpt_tales.npz", "masked": "masked_tales.npz"}
MASK = len(sequences.TALE_VOCAB)
"""The id of [MASK], the masked language model's extra token: one past the tales' words."""
MASKED_RATE = 0.3
"""The share of positions the masked model is trained to restore: twice BERT's 15%, for more training signal per
step in a model trained in a minute and a half of CPU time."""

Attention = namedtuple("Attention", "encoder decoder cross")
"""The weights of an encoder–decoder, one tensor per kind, each (batch, layers, heads, n_queries, n_keys):
encoder: source over source; decoder: target over target (causal); cross: target over source."""


# ---------------------------------------------------------------------------------------------------
# The blocks

class Embed(nn.Module):
    """ids (B, T) -> token embedding * sqrt(d_model) + PE[:T], (B, T, d_model).

    The token table starts at std 1/sqrt(d_model), so that after the sqrt(d_model) of Vaswani et al.
    (sec. 3.4) each coordinate is about N(0, 1), the size of the sines and cosines it is added to: neither
    drowns the other. positional=False leaves the positions out (to see what breaks)."""

    def __init__(self, vocab_size, d_model, max_len, positional=True):
        super().__init__()
        self.vocab_size, self.max_len, self.scale = vocab_size, max_len, math.sqrt(d_model)
        self.token = nn.Embedding(vocab_size, d_model)
        nn.init.normal_(self.token.weight, std=d_model ** -0.5)
        pe = torch.from_numpy(sinusoidal_encoding(max_len, d_model)).float()   # (max_len, d_model)
        # a buffer, not a parameter: nothing to learn, and not saved (it is recomputed from the formula)
        self.register_buffer("pe", pe if positional else torch.zeros_like(pe), persistent=False)

    def forward(self, ids, name="ids"):
        ids = _int_tokens(ids, name, self.vocab_size)
        if ids.shape[1] > self.max_len:
            raise ValueError(f"{name} has {ids.shape[1]} tokens, more than this model's max_len = {self.max_len} "
                             f"positions")
        return self.token(ids) * self.scale + self.pe[:ids.shape[1]]          # (B, T, d_model)


class DecoderBlock(nn.Module):
    """One Transformer decoder layer, pre-norm like attn_course.nn.EncoderBlock:

        x = x + self_attention(norm_1(x), causal)          queries, keys, values: the target so far
        x = x + cross_attention(norm_2(x), memory)         queries: the target; keys, values: the source
        x = x + feed_forward(norm_3(x))

    forward(x: (B, T, d_model), memory: (B, S, d_model), self_mask=None) -> x, self weights (B, h, T, T),
    cross weights (B, h, T, S). self_mask: (T, T) bool, True = may attend; default the causal mask."""

    def __init__(self, d_model, n_heads, d_ff=None):
        super().__init__()
        d_ff = 4 * d_model if d_ff is None else d_ff
        self.norm_1, self.norm_2, self.norm_3 = (nn.LayerNorm(d_model) for _ in range(3))
        self.self_attention = MultiHeadAttention(d_model, n_heads)
        self.cross_attention = MultiHeadAttention(d_model, n_heads)
        self.feed_forward = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Linear(d_ff, d_model))

    def forward(self, x, memory, *, self_mask=None):
        causal = self_mask is None
        attended, w_self = self.self_attention(self.norm_1(x), mask=self_mask, causal=causal)  # (B, T, d), (B, h, T, T)
        x = x + attended
        attended, w_cross = self.cross_attention(self.norm_2(x), memory)                    # (B, T, d), (B, h, T, S)
        x = x + attended
        x = x + self.feed_forward(self.norm_3(x))
        return x, w_self, w_cross


# ---------------------------------------------------------------------------------------------------
# The encoder–decoder

class Transformer(nn.Module):
    """An encoder–decoder Transformer for token sequences.

    Source ids are 0..source_vocab-1, target ids 0..target_vocab-1; the decoder's first input is an extra
    id, target_vocab ("begin"). forward(source (B, S), target (B, T)) is teacher forcing: it predicts
    target[:, i] from the source and target[:, :i], for every i at once, and returns logits
    (B, T, target_vocab) and an Attention. generate(source, length) decodes greedily."""

    def __init__(self, source_vocab, target_vocab, d_model=32, n_heads=4, n_layers=2, d_ff=64, max_len=16,
                 positional=True):
        super().__init__()
        self.target_vocab, self.begin = target_vocab, target_vocab
        self.embed_source = Embed(source_vocab, d_model, max_len, positional)
        self.embed_target = Embed(target_vocab + 1, d_model, max_len, positional)  # + "begin"
        self.encoder = nn.ModuleList(EncoderBlock(d_model, n_heads, d_ff) for _ in range(n_layers))
        self.decoder = nn.ModuleList(DecoderBlock(d_model, n_heads, d_ff) for _ in range(n_layers))
        self.norm_memory, self.norm_out = nn.LayerNorm(d_model), nn.LayerNorm(d_model)  # pre-norm: one at the end
        self.head = nn.Linear(d_model, target_vocab)

    def encode(self, source):
        """source (B, S) ids -> memory (B, S, d_model), encoder weights (B, layers, h, S, S)."""
        x = self.embed_source(source, "source")                               # (B, S, d)
        weights = []
        for block in self.encoder:
            x, w = block(x)                                                   # (B, S, d), (B, h, S, S)
            weights.append(w)
        return self.norm_memory(x), torch.stack(weights, 1)

    def decode(self, memory, target_in):
        """memory (B, S, d_model), target_in (B, T) ids (starting with "begin") -> logits (B, T, target_vocab),
        decoder self-attention weights (B, layers, h, T, T), cross-attention weights (B, layers, h, T, S)."""
        y = self.embed_target(target_in, "target")                            # (B, T, d)
        w_self, w_cross = [], []
        for block in self.decoder:
            y, ws, wc = block(y, memory)
            w_self.append(ws)
            w_cross.append(wc)
        return self.head(self.norm_out(y)), torch.stack(w_self, 1), torch.stack(w_cross, 1)

    def shift_right(self, target):
        """(B, T) -> (B, T): "begin", target[:, 0], ..., target[:, T-2]: what the decoder reads."""
        target = _int_tokens(target, "target", self.target_vocab)
        return torch.cat([torch.full_like(target[:, :1], self.begin), target[:, :-1]], dim=1)

    def forward(self, source, target):
        memory, w_enc = self.encode(source)
        logits, w_dec, w_cross = self.decode(memory, self.shift_right(target))
        return logits, Attention(w_enc, w_dec, w_cross)

    @torch.no_grad()
    def generate(self, source, length):
        """Greedy decoding: `length` steps, each feeding back the most likely token. Returns ids (B, length)
        and the Attention of the last step (by causality the same weights every earlier step computed)."""
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ValueError(f"length must be a positive int, got {length!r}")
        memory, w_enc = self.encode(source)
        out = torch.full((memory.shape[0], 1), self.begin, dtype=torch.long, device=memory.device)  # (B, 1)
        for _ in range(length):
            logits, w_dec, w_cross = self.decode(memory, out)                # (B, t, V)
            out = torch.cat([out, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
        return out[:, 1:], Attention(w_enc, w_dec, w_cross)


# ---------------------------------------------------------------------------------------------------
# The language model

class GPT(nn.Module):
    """A causal language model: embed, n_layers EncoderBlocks under a causal mask, norm, linear read-out.

    forward(ids (B, T)) -> logits (B, T, vocab_size): position t predicts token t + 1 from tokens 0..t;
    weights (B, layers, h, T, T). mask: a function n -> (n, n) bool mask, True = may attend (default the
    causal mask; another one is how a model cheats, see the chapter's exercise)."""

    def __init__(self, vocab_size, d_model=48, n_heads=3, n_layers=2, d_ff=96, max_len=32, positional=True,
                 mask=None):
        super().__init__()
        self.vocab_size, self.max_len = vocab_size, max_len
        self.mask = (lambda n: causal_mask(n)) if mask is None else mask
        self.embed = Embed(vocab_size, d_model, max_len, positional)
        self.blocks = nn.ModuleList(EncoderBlock(d_model, n_heads, d_ff) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, ids):
        x = self.embed(ids)                                                   # (B, T, d)
        mask = torch.as_tensor(self.mask(x.shape[1]), device=x.device)        # (T, T)
        weights = []
        for block in self.blocks:
            x, w = block(x, mask=mask)                                        # (B, T, d), (B, h, T, T)
            weights.append(w)
        return self.head(self.norm(x)), torch.stack(weights, 1)

    @torch.no_grad()
    def generate(self, ids, n_new, temperature=0.0, seed=0):
        """Continue `ids` (B, T) by n_new tokens: the most likely one each step (temperature 0), or one drawn
        from softmax(logits / temperature) by a CPU generator seeded with `seed`. The model reads at most the
        last max_len tokens. Returns (B, T + n_new) ids."""
        if isinstance(n_new, bool) or not isinstance(n_new, int) or n_new < 1:
            raise ValueError(f"n_new must be a positive int, got {n_new!r}")
        if isinstance(temperature, bool) or not (isinstance(temperature, (int, float)) and temperature >= 0):
            raise ValueError(f"temperature must be a number >= 0 (0: greedy), got {temperature!r}")
        ids = _int_tokens(ids, "ids", self.vocab_size)
        generator = torch.Generator().manual_seed(seed)  # on the CPU: the same draws on every device
        for _ in range(n_new):
            logits = self(ids[:, -self.max_len:])[0][:, -1]                   # (B, V): the next token's
            if temperature == 0:
                nxt = logits.argmax(-1, keepdim=True)                         # (B, 1)
            else:
                probs = torch.softmax(logits.double() / temperature, -1).cpu()
                nxt = torch.multinomial(probs, 1, generator=generator).to(ids.device)
            ids = torch.cat([ids, nxt], dim=1)
        return ids


def bidirectional_mask(n):
    """(n, n) bool, all True: every position may read every other, before and after it (an encoder's mask)."""
    return torch.ones(n, n, dtype=torch.bool)


def mask_tokens(ids, rng, rate=0.15, vocab_size=len(sequences.TALE_VOCAB)):
    """BERT's corruption (Devlin et al., sec. 3.1) with random draws from `rng` (a NumPy Generator): each position
    is picked with probability `rate` to be predicted, and corrupt() hides it. ids: (B, T) int array.
    Returns (inputs, targets), int64 arrays like ids (see corrupt)."""
    ids = np.asarray(ids)
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(f"ids must be a (batch, T) array of token ids, got shape {ids.shape}, dtype {ids.dtype}")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1:
        raise ValueError(f"rate must be a number in (0, 1], got {rate!r}")
    picked = rng.random(ids.shape) < rate                                      # (B, T): positions to predict
    return corrupt(ids, picked, rng.random(ids.shape), rng.integers(0, vocab_size, ids.shape), vocab_size)


def corrupt(ids, picked, fate, random_ids, mask_id):
    """Hide the picked tokens as BERT does: of the picked positions, those with fate < 0.8 become [MASK] (mask_id),
    those with 0.8 <= fate < 0.9 the random token random_ids, the rest stay as they are, so that the input never
    tells the model which tokens it will be asked about. ids, picked (bool), fate (uniform in [0, 1)),
    random_ids: arrays of one shape. Returns (inputs, targets): targets hold the original id at the picked
    positions and -100 (which cross_entropy ignores) elsewhere."""
    inputs = np.where(picked & (fate < 0.8), mask_id, ids)
    inputs = np.where(picked & (fate >= 0.8) & (fate < 0.9), random_ids, inputs)
    targets = np.where(picked, ids, -100)                                      # only the picked count in the loss
    return inputs.astype(np.int64), targets.astype(np.int64)


# ---------------------------------------------------------------------------------------------------
# Training: the three recipes, deterministic

Recipe = namedtuple("Recipe", "model data steps batch lr seed")
RECIPES = {
    "reverse": Recipe(lambda **kw: Transformer(10, 10, **kw), lambda: sequences.reverse_split(seed=0), 300, 64, 3e-3, 0),
    # Induction heads appear suddenly, after a plateau whose length varies with the seed: with seed 1 they
    # have formed after 800 steps, with seed 0 not yet (they have after 1200; measured with
    # `scripts/train_transformers.py tales --seed 0 --steps 1200`). Seed 1 keeps the training near half a
    # minute of CPU time.
    "tales": Recipe(lambda **kw: GPT(len(sequences.TALE_VOCAB), **kw), lambda: sequences.tale_split(seed=0),
                    800, 32, 5e-3, 1),
    # The same model with no mask and one more token, [MASK], trained on the same tales to restore hidden tokens.
    # It learns only from the hidden 30%, so it takes more steps to copy: at 1600 steps it restored a hidden word
    # the parrot repeats about a third of the time, at 3000 about two thirds (transformer.restored, by role).
    "masked": Recipe(lambda **kw: GPT(len(sequences.TALE_VOCAB) + 1, mask=bidirectional_mask, **kw),
                     lambda: sequences.tale_split(seed=0), 3000, 32, 5e-3, 0),
}


def _check_name(name):
    if name not in RECIPES:
        raise ValueError(f"name must be one of {sorted(RECIPES)}, got {name!r}")
    return RECIPES[name]


def _batch(name, train_data, rng, batch, max_len, device):
    """One minibatch (inputs, targets): strings and their reversals, or windows of the corpus and the same
    windows one token later."""
    if name == "reverse":
        rows = torch.from_numpy(rng.choice(len(train_data.source), batch, replace=False))
        return (torch.from_numpy(train_data.source)[rows].to(device),
                torch.from_numpy(train_data.target)[rows].to(device))
    starts = rng.integers(0, len(train_data) - max_len - 1, size=batch)
    windows = np.stack([train_data[s:s + max_len + 1] for s in starts])
    if name == "masked":                                                       # restore what was hidden
        return tuple(torch.from_numpy(a).to(device) for a in mask_tokens(windows[:, :-1], rng, rate=MASKED_RATE))
    windows = torch.from_numpy(windows).to(device)
    return windows[:, :-1], windows[:, 1:]


def loss_of(name, model, x, y):
    """Mean cross-entropy of the next token (teacher forcing for the encoder–decoder), or of the hidden tokens
    (the masked model: targets -100 are ignored)."""
    logits = model(x, y)[0] if name == "reverse" else model(x)[0]
    return nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())


def train(name, seed=None, steps=None, device="cpu", verbose=False, **options):
    """Train model `name` ("reverse", "tales" or "masked") from scratch; options go to the model (e.g.
    positional=False).

    seed and steps default to the recipe's (RECIPES[name]), which made the shipped weights.
    Deterministic as attn_course.models.train: torch.manual_seed(seed) for the initial weights, a NumPy
    generator seeded with `seed` for the minibatches, float64 arithmetic, one thread. Adam with the
    learning rate constant for 60% of the steps, then falling linearly to zero. Returns the model in
    float64 holding float32 values (as load() does), in eval mode; its attribute `seconds` holds the training time (wall clock)."""
    recipe = _check_name(name)
    steps = recipe.steps if steps is None else steps
    seed = recipe.seed if seed is None else seed
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    start = time.perf_counter()
    with deterministic():
        torch.manual_seed(seed)
        model = recipe.model(**options).to(device=device, dtype=torch.float64)
        train_data = recipe.data()[0]
        optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, 2.5 * (1 - step / steps)))
        rng = np.random.default_rng(seed)
        model.train()
        for step in range(steps):
            x, y = _batch(name, train_data, rng, recipe.batch, getattr(model, "max_len", 0), device)
            loss = loss_of(name, model, x, y)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            if verbose and (step + 1) % 100 == 0:
                print(f"{name}: step {step + 1:4d}  loss {loss.item():.4f}  ({time.perf_counter() - start:.1f} s)")
    model = model.float().double().eval()  # the shipped weights' float32 values, computed with in float64
    model.seconds = time.perf_counter() - start
    return model


def load(name, device="cpu"):
    """Model `name` with its shipped weights (attn_course/weights/), in eval mode, computing in float64."""
    recipe = _check_name(name)
    return load_weights(recipe.model(), WEIGHTS / FILES[name]).to(device, torch.float64).eval()


def save(name, model):
    """Write `model`'s weights where load(name) reads them; returns the path."""
    _check_name(name)
    path = WEIGHTS / FILES[name]
    save_weights(model, path)
    return path


# ---------------------------------------------------------------------------------------------------
# Measuring: accuracy, perplexity, induction

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


def bigram_perplexity(train_ids, test_ids, vocab_size):
    """The perplexity on `test_ids` of a bigram model counted on `train_ids` (add-one smoothing): what
    predicting each token from the one before it alone achieves. A baseline for the language model."""
    train_ids, test_ids = np.asarray(train_ids), np.asarray(test_ids)
    counts = np.ones((vocab_size, vocab_size))                                 # add-one: no zero probability
    np.add.at(counts, (train_ids[:-1], train_ids[1:]), 1)
    p = counts / counts.sum(axis=1, keepdims=True)                             # p[a, b] = P(next = b | a)
    return float(np.exp(-np.log(p[test_ids[:-1], test_ids[1:]]).mean()))


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
            hidden[:, asked - 1, asked] = MASK                                          # position, that one hidden
            logits = model(hidden.flatten(0, 1))[0].unflatten(0, (len(chunk), n - 2))   # (w, n - 2, n, V)
            guess.append(logits[:, asked - 1, asked].argmax(-1))                        # (w, n - 2)
        guess = torch.cat(guess)
    else:
        guess = model(windows)[0][:, asked - 1].argmax(-1)                              # position p - 1 predicts p
    return (guess == windows[:, asked]).cpu().numpy()


Probe = namedtuple("Probe", "tokens weights scores loss_first loss_second")
"""tokens: (n, 2p) the probe sequences; weights: (n, layers, heads, 2p, 2p); scores: (layers, heads) mean
induction score; loss_first, loss_second: mean next-token loss (nats) in the first and second half."""


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


# ---------------------------------------------------------------------------------------------------
# Pictures

def cross_attention_view(weights, source_tokens, target_tokens, true_alignment=None):
    """weights: (layers, heads, T, S), e.g. Attention.cross[i]; a new figure (returned): viz.model_view for the
    rectangular weights of cross-attention, keys (source) along x, queries (target) down y, the true
    alignment outlined."""
    fig = viz.model_view(weights, source_tokens, query_tokens=target_tokens, true_alignment=true_alignment)
    for ax in fig.axes[:-1]:  # the last axes is the colorbar
        if ax.get_ylabel():
            ax.set_ylabel(ax.get_ylabel().replace("query", "target (query)"), fontsize=7)
        if ax.get_xlabel():
            ax.set_xlabel("source (key)", fontsize=7)
    return fig
