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

Masks, as everywhere in the package: boolean, True = may attend; `causal` adds the causal mask.

Three trained models ship in attn_course/weights/: "reverse", a Transformer that reverses strings of 8
digits, "tales", a GPT trained on generated parrot tales, and "masked", a masked language model trained
on the same tales. attn_course.training trains and loads
them (`training.load("tales")`), attn_course.evaluation measures them, attn_course.readout reads their
attention, attn_course.viz draws it.
"""
import math
from collections import namedtuple

import numpy as np
import torch
from torch import nn

from . import sequences
from ._checks import positive_int, token_ids
from .nn import EncoderBlock, MultiHeadAttention, causal_mask
from .positional import sinusoidal_encoding

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
        ids = token_ids(ids, name, self.vocab_size)
        if ids.shape[1] > self.max_len:
            raise ValueError(f"{name} has {ids.shape[1]} tokens, more than this model's max_len = {self.max_len} "
                             f"positions")
        return self.token(ids) * self.scale + self.pe[:ids.shape[1]]          # (B, T, d_model)


class DecoderBlock(nn.Module):
    """One Transformer decoder layer, pre-norm like attn_course.nn.EncoderBlock:

        x = x + self_attention(norm_1(x), causal)          queries, keys, values: the target so far
        x = x + cross_attention(norm_2(x), memory)         queries: the target; keys, values: the source
        x = x + feed_forward(norm_3(x))

    forward(x: (B, T, d_model), memory: (B, S, d_model), *, mask=None, causal=True) -> x, self weights
    (B, h, T, T), cross weights (B, h, T, S). mask and causal restrict the self-attention, as in
    attn_course.nn.EncoderBlock (mask: (T, T) bool, True = may attend); causal by default, as a decoder is."""

    def __init__(self, d_model, n_heads, d_ff=None):
        super().__init__()
        d_ff = 4 * d_model if d_ff is None else d_ff
        self.norm_1, self.norm_2, self.norm_3 = (nn.LayerNorm(d_model) for _ in range(3))
        self.self_attention = MultiHeadAttention(d_model, n_heads)
        self.cross_attention = MultiHeadAttention(d_model, n_heads)
        self.feed_forward = nn.Sequential(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Linear(d_ff, d_model))

    def forward(self, x, memory, *, mask=None, causal=True):
        attended, w_self = self.self_attention(self.norm_1(x), mask=mask, causal=causal)  # (B, T, d), (B, h, T, T)
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
        target = token_ids(target, "target", self.target_vocab)
        return torch.cat([torch.full_like(target[:, :1], self.begin), target[:, :-1]], dim=1)

    def forward(self, source, target):
        memory, w_enc = self.encode(source)
        logits, w_dec, w_cross = self.decode(memory, self.shift_right(target))
        return logits, Attention(w_enc, w_dec, w_cross)

    @torch.no_grad()
    def generate(self, source, length):
        """Greedy decoding: `length` steps, each feeding back the most likely token. Returns ids (B, length)
        and the Attention of the last step (by causality the same weights every earlier step computed)."""
        length = positive_int(length, "length")
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
    causal mask; another one is how a model cheats, see the chapter's exercise): a function, not a
    tensor, because the model reads sequences of every length up to max_len."""

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
        n_new = positive_int(n_new, "n_new")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
            raise TypeError(f"temperature must be a number >= 0 (0: greedy), got {temperature!r}")
        if not temperature >= 0:
            raise ValueError(f"temperature must be a number >= 0 (0: greedy), got {temperature!r}")
        ids = token_ids(ids, "ids", self.vocab_size)
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
