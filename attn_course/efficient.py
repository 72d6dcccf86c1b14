"""Cheaper attention, approximately: sliding-window (local) attention and linear attention, in NumPy.

Full attention compares every query with every key, O(n² d) time and an (n, n) matrix of weights.
Tiled attention (attn_course.flash) removes the n² *memory* but computes exactly the same thing, so
it keeps the n² time. The two functions here change *what* is computed, to make the time linear in n:

    sliding_window_attention   query i looks only at keys j with |i - j| <= window (j <= i when causal):
                               O(n w d) for a window of w keys. Vaswani et al.'s "restricted
                               self-attention", O(r n d) in their Table 1 (NIPS 2017).
    linear_attention           exp(q·k / sqrt(d)) replaced by phi(q)·phi(k), phi(x) = elu(x) + 1
                               (Katharopoulos, Vyas, Pappas & Fleuret, "Transformers are RNNs",
                               ICML 2020). Then sum_j phi(q_i)·phi(k_j) v_j = phi(q_i) @ (phi(K)^T V):
                               the (d_k, d_v) matrix phi(K)^T V is computed once, O(n d_k d_v).

Each equals full attention only in a special case (a window that covers every key; never, for linear
attention, whose weights are a different function of the scores). Chapter 8 measures how far each is.
"""
import numpy as np

from ._checks import as_queries_keys, attention_inputs, positive_int

# ---------------------------------------------------------------------------------------------------
# Sliding-window (local) attention


def _window(window):
    """A window half-width: an int >= 0 (0: each position sees only itself)."""
    if isinstance(window, (bool, np.bool_)) or not isinstance(window, (int, np.integer)):
        raise TypeError(f"window must be a non-negative int (how many positions each side), got {window!r}")
    if window < 0:
        raise ValueError(f"window must be >= 0 (how many positions each side a query sees), got {window}")
    return int(window)


def band_mask(n, window, *, causal=False):
    """(n, n) boolean mask, True where |i - j| <= window (and j <= i when causal): who may attend to whom.

    The mask that makes full attention equal sliding_window_attention (as attn_course's masks: True = may attend).
    """
    n = positive_int(n, "n")
    window = _window(window)
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    return (j >= i - window) & (j <= i if causal else j <= i + window)


def sliding_window_attention(q, k, v, window, *, causal=False, scale=None):
    """Each query attends only to the keys within `window` positions of it; returns the output.

    q: (..., n, d_k)  k: (..., n, d_k)  v: (..., n, d_v)  ->  output (..., n, d_v)
    weights_i = softmax over j in [i - window, i + window] (or [i - window, i] when causal) of q_i·k_j * scale.
    Memory and time O(n · window · d): the (n, n) matrix is never built, only (n, 2 window + 1) scores.
    """
    q, k, v, scale = attention_inputs(q, k, v, scale)
    window = _window(window)
    n = q.shape[-2]
    if k.shape[-2] != n or v.shape[-2] != n:
        raise ValueError(f"sliding-window attention relates positions of ONE sequence: q, k and v must have the "
                         f"same length n, got q {q.shape}, k {k.shape}, v {v.shape}")
    w = min(window, n - 1)  # a window wider than the sequence sees every key, like full attention
    left, right = w, (0 if causal else w)

    # Pad the sequence with `left` zero keys before and `right` after; the keys of query i are then the
    # rows i .. i + left + right of the padded array: a strided view, not a copy.
    pad = [(0, 0)] * (k.ndim - 2) + [(left, right), (0, 0)]
    k_win = np.lib.stride_tricks.sliding_window_view(np.pad(k, pad), left + right + 1, axis=-2)  # (..., n, d_k, w)
    v_win = np.lib.stride_tricks.sliding_window_view(np.pad(v, pad), left + right + 1, axis=-2)  # (..., n, d_v, w)
    scores = np.einsum("...nd,...ndw->...nw", q * scale, k_win)        # (..., n, w): one row per query
    offsets = np.arange(-left, right + 1)                               # key j = i + offset
    inside = (np.arange(n)[:, None] + offsets >= 0) & (np.arange(n)[:, None] + offsets < n)  # not padding
    scores = np.where(inside, scores, -np.inf)
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))       # each row keeps its own key: max is finite
    weights = scores / scores.sum(axis=-1, keepdims=True)
    return np.einsum("...nw,...ndw->...nd", weights, v_win)


# ---------------------------------------------------------------------------------------------------
# Linear attention


def elu_feature_map(x):
    """phi(x) = elu(x) + 1 = x + 1 for x > 0, exp(x) for x <= 0: positive, so phi(q)·phi(k) > 0 can stand in
    for exp(q·k). The feature map of Katharopoulos et al. (2020), section 3.2.1."""
    x = np.asarray(x)
    return np.where(x > 0, x + 1, np.exp(np.minimum(x, 0)))  # minimum: no overflow warning from the unused branch


def linear_attention_weights(q, k, feature_map=elu_feature_map):
    """The (n_q, n_k) weights that linear attention applies without ever building them:
    weights_ij = phi(q_i)·phi(k_j) / sum_j' phi(q_i)·phi(k_j'). q: (..., n_q, d_k)  k: (..., n_k, d_k).

    The quadratic form, O(n² d): for pictures and tests, not for speed."""
    q, k = as_queries_keys(q, k)
    similarity = feature_map(q) @ np.swapaxes(feature_map(k), -1, -2)  # (..., n_q, n_k), all > 0
    return similarity / similarity.sum(axis=-1, keepdims=True)


def linear_attention(q, k, v, *, causal=False, feature_map=elu_feature_map):
    """Linear attention: output_i = phi(q_i) @ S / phi(q_i)·z with S = sum_j phi(k_j) v_j^T, z = sum_j phi(k_j).

    q: (..., n_q, d_k)  k: (..., n_k, d_k)  v: (..., n_k, d_v)  ->  output (..., n_q, d_v)
    Equal to linear_attention_weights(q, k) @ v, in O(n d_k d_v) instead of O(n² d). causal: S and z
    summed over j <= i only (n_q == n_k), as a running sum: the recurrent form that gives the paper its title.
    """
    q, k, v, _ = attention_inputs(q, k, v, None)            # no scale: phi replaces exp(q·k * scale)
    phi_q, phi_k = feature_map(q), feature_map(k)            # (..., n_q, d_k), (..., n_k, d_k)
    if np.any(phi_k < 0) or np.any(phi_q < 0):
        raise ValueError("feature_map must return non-negative features (phi(q)·phi(k) stands in for exp(q·k) > 0)")
    if not causal:
        S = np.swapaxes(phi_k, -1, -2) @ v                   # (..., d_k, d_v): sum_j phi(k_j) v_j^T
        z = phi_k.sum(axis=-2)[..., None, :]                 # (..., 1, d_k):   sum_j phi(k_j)
        return (phi_q @ S) / np.sum(phi_q * z, axis=-1, keepdims=True)
    if q.shape[-2] != k.shape[-2]:
        raise ValueError(f"causal linear attention needs one query per key (n_q == n_k), got q {q.shape}, k {k.shape}")
    S = np.cumsum(phi_k[..., :, None] * v[..., None, :], axis=-3)  # (..., n, d_k, d_v): running sums over j <= i
    z = np.cumsum(phi_k, axis=-2)                                  # (..., n, d_k)
    numerator = np.einsum("...nd,...nde->...ne", phi_q, S)
    return numerator / np.sum(phi_q * z, axis=-1, keepdims=True)


def relative_error(approx, exact):
    """||approx - exact|| / ||exact|| (Frobenius norms over everything): 0 is exact, 1 is as large as the signal."""
    approx, exact = np.asarray(approx, dtype=np.float64), np.asarray(exact, dtype=np.float64)
    if approx.shape != exact.shape:
        raise ValueError(f"approx and exact must have the same shape, got {approx.shape} and {exact.shape}")
    return float(np.linalg.norm(approx - exact) / np.linalg.norm(exact))
