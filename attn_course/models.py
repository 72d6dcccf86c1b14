"""The tiny attention models of chapter 6's applications, as PyTorch modules.

    from attn_course import models            (imports torch; `import attn_course` alone does not)

    AdditiveAttention   Bahdanau's score w_v^T tanh(W_q q + W_k k), as a module (attn_course.scores'
                        additive_score, on tensors)
    Seq2Seq             a bidirectional-GRU encoder and a GRU decoder that attends with AdditiveAttention
                        (Bahdanau, Cho & Bengio, ICLR 2015): dates (tokens in) and telephone tones
                        (spectrogram frames in)
    AttentionPooling    attention with a learned query, pooling a sequence into one vector
    SentimentClassifier word embeddings pooled by attention with a learned query (Yang et al., NAACL 2016)
    TinyViT             a Vision Transformer (Dosovitskiy et al., ICLR 2021) for 8x8 digits, built from
                        attn_course.nn.EncoderBlock

Training them, and the shipped weights, are attn_course.training's; running them on held-out data is
attn_course.evaluation's; reading the results, attn_course.readout's; drawing them, attn_course.viz's.
"""
import torch
from torch import nn

from . import data
from ._checks import feature_frames, positive_int, token_ids
from .nn import EncoderBlock


# ---------------------------------------------------------------------------------------------------
# Additive attention and the modules built on it

class AdditiveAttention(nn.Module):
    """score(q, k_j) = w_v^T tanh(W_q q + W_k k_j); weights = softmax over j; output = sum_j weights_j v_j.

    The same function as attn_course.additive_score(q, k, W_q.weight.T, W_k.weight.T, w_v.weight[0]):
    nn.Linear stores (out, in) matrices and computes x @ weight.T. No biases, as in Bahdanau et al.'s
    appendix A.1.2.
    forward(q: (batch, d_q), k: (batch, n, d_k), v: (batch, n, d_v) = k, mask: (batch, n) bool = None)
        -> output (batch, d_v), weights (batch, n). mask: True = may attend, as everywhere in the package;
    a query that may attend to no key gets zero weights and a zero output (as attn_course.nn's attention).
    """

    def __init__(self, d_q, d_k, d_a):
        super().__init__()
        self.W_q = nn.Linear(d_q, d_a, bias=False)
        self.W_k = nn.Linear(d_k, d_a, bias=False)
        self.w_v = nn.Linear(d_a, 1, bias=False)

    def scores(self, q, k):
        """(batch, n): one score per key; q: (batch, d_q), k: (batch, n, d_k)."""
        return self.w_v(torch.tanh(self.W_q(q)[:, None, :] + self.W_k(k))).squeeze(-1)

    def forward(self, q, k, v=None, mask=None):
        v = k if v is None else v
        scores = self.scores(q, k)                                    # (batch, n)
        if mask is None:
            weights = torch.softmax(scores, dim=-1)                   # (batch, n)
        else:
            if mask.shape != scores.shape or mask.dtype != torch.bool:
                raise ValueError(f"mask must be a bool tensor of shape (batch, n) = {tuple(scores.shape)}, "
                                 f"got {mask.dtype} of shape {tuple(mask.shape)}")
            weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
            weights = weights.masked_fill(~mask, 0.0)                 # a row with no key: 0, not NaN
        return (weights[:, :, None] * v).sum(dim=1), weights          # (batch, d_v), (batch, n)


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
            source = token_ids(source, "source", self.n_in)
        else:
            source = feature_frames(source, "source", self.d_in)
        x = self.embed_in(source)
        return torch.cat([self.encoder(x)[0], x], dim=-1)

    def forward(self, source, target):
        """Teacher forcing: the decoder reads the true previous output. target: (batch, T) ids.
        Returns logits (batch, T, n_out) and attention weights (batch, T, n)."""
        h = self.encode(source)
        target = token_ids(target, "target", self.n_out)
        return self._decode(h, target.shape[1], target)

    @torch.no_grad()
    def generate(self, source, length):
        """Greedy decoding of `length` outputs: ids (batch, length) and weights (batch, length, n)."""
        length = positive_int(length, "length")
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
        ids = token_ids(ids, "ids", self.n_words)
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
