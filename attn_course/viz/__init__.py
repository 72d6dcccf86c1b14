"""The course's pictures, in one style.

Every function draws on `ax` when given (or on a new pyplot figure), returns the artists it made, and
has an `update_*` partner where a live explorer needs to move those artists without redrawing the
figure. The style is set once, here: `STYLE` is applied by every function, and `use_style()` makes
the figures a chapter draws itself look the same.

Colours: one perceptually uniform colormap (viridis, readable in greyscale) for every matrix, grey
for inputs and one dark accent for the result a picture is about.

Every picture of the course is drawn here. This module: the pictures of attention itself (heatmaps,
bars, weighted sums, head and model views). Its submodules, whose functions are imported here too:

    viz.applications   one held-out example of chapter 6's applications (draw_example), cross-attention
    viz.benchmark      the measured speed and memory of the Triton kernel (plot_benchmark, chapter 8b)
    viz.timeline       the events of attention's history (timeline, chapter 1)
"""
from collections import namedtuple
from functools import wraps

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection

from .._checks import as_float_array, positive_int

CMAP = "viridis"
INPUT = "0.6"         # value vectors, keys: grey
ACCENT = "#c0392b"    # the output, the query: dark red, still dark in greyscale
BAR = "#3b528b"       # viridis' blue

STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "image.cmap": CMAP,
    "image.interpolation": "nearest",  # a weight matrix is a grid of cells, not a photograph
}

Heatmap = namedtuple("Heatmap", "image texts colorbar")   # AxesImage, (n_q, n_k) list of Text or [], Colorbar
Bars = namedtuple("Bars", "bars texts")                    # BarContainer, one value label per bar
WeightedSum = namedtuple("WeightedSum", "values output path texts labels")  # Quiver, Quiver, Line2D, Texts, strs


def use_style():
    """Make every later matplotlib figure use the course's style (call once at the top of a chapter)."""
    mpl.rcParams.update(STYLE)


def style():
    """A context in which new figures and artists get the course's style (used by every function here)."""
    return mpl.rc_context(STYLE)


def styled(draw):
    """Decorate a drawing function so that it draws in the course's style."""
    @wraps(draw)
    def wrapper(*args, **kwargs):
        with style():
            return draw(*args, **kwargs)
    return wrapper


def _axes(ax, figsize):
    return plt.subplots(figsize=figsize)[1] if ax is None else ax


def _labels(labels, n, name):
    if labels is None:
        return [str(i) for i in range(n)]
    labels = [str(label) for label in labels]
    if len(labels) != n:
        raise ValueError(f"{name} must have one label per row/column ({n}), got {len(labels)} labels")
    return labels


def _matrix(weights, name):
    weights = as_float_array(weights, name, min_ndim=2)
    if weights.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix (n_q, n_k), got shape {weights.shape}")
    return weights


# ---------------------------------------------------------------------------------------------------
# Heatmaps: one row per query, one column per key.

@styled
def heatmap(weights, x_labels=None, y_labels=None, ax=None, annotate=None):
    """weights: (n_q, n_k), keys along x, queries down y; returns a Heatmap.

    annotate: write each value in its cell (default: when there are at most 100 cells)."""
    weights = _matrix(weights, "weights")
    n_q, n_k = weights.shape
    ax = _axes(ax, (1.2 + 0.5 * n_k, 0.8 + 0.45 * n_q))
    # Weights live in [0, 1]: a fixed colour scale makes two pictures comparable. Anything else
    # (raw scores) gets its own range.
    lo, hi = (0.0, 1.0) if weights.min() >= 0 and weights.max() <= 1 else (weights.min(), weights.max())
    image = ax.imshow(weights, cmap=CMAP, vmin=lo, vmax=hi, aspect="auto")
    for axis in (ax.xaxis, ax.yaxis):  # positions 0, 1, ... unless there are tokens to name
        axis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
    if x_labels is not None:
        ax.set_xticks(range(n_k), _labels(x_labels, n_k, "x_labels"), rotation=90 if n_k > 8 else 0)
    if y_labels is not None:
        ax.set_yticks(range(n_q), _labels(y_labels, n_q, "y_labels"))
    ax.set(xlabel="key", ylabel="query")
    ax.tick_params(length=0)
    ax.spines[:].set_visible(False)
    texts = []
    if annotate if annotate is not None else n_q * n_k <= 100:
        texts = [[ax.text(j, i, "", ha="center", va="center", fontsize=7) for j in range(n_k)] for i in range(n_q)]
    colorbar = ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.03, label="weight" if hi == 1 else "value")
    drawn = Heatmap(image, texts, colorbar)
    _write_values(drawn, weights)
    return drawn


def update_heatmap(drawn, weights):
    """Show new `weights` (same shape) in a Heatmap from `heatmap`, colour scale unchanged."""
    weights = _matrix(weights, "weights")
    if weights.shape != drawn.image.get_array().shape:
        raise ValueError(f"weights must keep the shape {drawn.image.get_array().shape}, got {weights.shape}")
    drawn.image.set_data(weights)
    _write_values(drawn, weights)


def _write_values(drawn, weights):
    lo, hi = drawn.image.get_clim()
    for i, row in enumerate(drawn.texts):
        for j, text in enumerate(row):
            text.set_text(f"{weights[i, j]:.2f}" if weights[i, j] != 0 else "")  # exactly 0: masked, left blank
            # white on the dark end of viridis, black on the bright end
            text.set_color("white" if (weights[i, j] - lo) < 0.6 * (hi - lo) else "black")


@styled
def alignment(weights, source_tokens, target_tokens, ax=None, true_alignment=None):
    """weights: (n_target, n_source), as in Bahdanau et al. (2015) fig. 3; returns a Heatmap.

    true_alignment: booleans of the same shape, the pairs that truly correspond, outlined."""
    weights = _matrix(weights, "weights")
    drawn = heatmap(weights, x_labels=source_tokens, y_labels=target_tokens, ax=ax,
                    annotate=False)
    ax = drawn.image.axes
    ax.set(xlabel="source (keys)", ylabel="target (queries)")
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    plt.setp(ax.get_xticklabels(), rotation=90)
    if true_alignment is not None:
        truth = np.asarray(true_alignment)
        if truth.dtype != np.bool_ or truth.shape != weights.shape:
            raise ValueError(f"true_alignment must be a boolean array of shape {weights.shape}, "
                             f"got dtype {truth.dtype} and shape {truth.shape}")
        i, j = np.nonzero(truth)
        ax.scatter(j, i, marker="s", s=180, facecolors="none", edgecolors=ACCENT, linewidths=1.5,
                   label="true alignment")
        ax.legend(loc="lower left", bbox_to_anchor=(0, -0.2))
    return drawn


@styled
def patch_overlay(image, patch_weights, patch_size, ax=None):
    """image: (H, W) or (H, W, 3); patch_weights: (H / patch_size, W / patch_size), drawn over it. Returns the overlay."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        image = image / 255.0  # 8-bit pictures are the common case; show them as they are
    image = as_float_array(image, "image", min_ndim=2)
    patch_weights = _matrix(patch_weights, "patch_weights")
    patch_size = positive_int(patch_size, "patch_size")
    h, w = image.shape[:2]
    if (h % patch_size, w % patch_size) != (0, 0) or patch_weights.shape != (h // patch_size, w // patch_size):
        raise ValueError(f"patch_weights must have shape (H / patch_size, W / patch_size) = "
                         f"({h / patch_size:g}, {w / patch_size:g}) for an image of {h}x{w} pixels, "
                         f"got {patch_weights.shape}")
    ax = _axes(ax, (4, 4 * h / w))
    ax.imshow(image, cmap="Greys_r" if image.ndim == 2 else None, extent=(0, w, h, 0))
    overlay = ax.imshow(patch_weights, cmap=CMAP, alpha=0.55, extent=(0, w, h, 0))
    ax.set_xticks(np.arange(0, w + 1, patch_size))
    ax.set_yticks(np.arange(0, h + 1, patch_size))
    ax.grid(color="white", linewidth=0.5, alpha=0.5)
    ax.set(xlabel="x (pixels)", ylabel="y (pixels)")
    ax.figure.colorbar(overlay, ax=ax, fraction=0.046, pad=0.03, label="attention")
    return overlay


# ---------------------------------------------------------------------------------------------------
# Softmax and the weighted sum.

@styled
def softmax_bars(probs, labels=None, ax=None):
    """probs: (n,) one bar per entry, its value on top, the y axis fixed to [0, 1]; returns Bars."""
    probs = as_float_array(probs, "probs")
    if probs.ndim != 1:
        raise ValueError(f"probs must be 1-D (n,), got shape {probs.shape}")
    ax = _axes(ax, (1.5 + 0.6 * len(probs), 2.6))
    bars = ax.bar(range(len(probs)), probs, color=BAR, width=0.7)
    ax.set_xticks(range(len(probs)), _labels(labels, len(probs), "labels"))
    ax.set(ylim=(0, 1.1), xlabel="token", ylabel="probability")
    texts = [ax.text(i, 0, "", ha="center", va="bottom", fontsize=8) for i in range(len(probs))]
    drawn = Bars(bars, texts)
    update_bars(drawn, probs)
    return drawn


def update_bars(drawn, heights):
    """Move the bars of `softmax_bars` (or any Bars) to `heights`: (n,), and their value labels with them."""
    for rect, text, h in zip(drawn.bars, drawn.texts, heights):
        rect.set_height(h)
        text.set_y(h + 0.02)
        text.set_text(f"{h:.2f}")


@styled
def weighted_sum(values, weights, labels=None, ax=None):
    """values: (n, 2) drawn as arrows, weights: (n,); returns a WeightedSum.

    The output Σ w_i v_i is the accented arrow, at the end of the dashed path w_1 v_1 + w_2 v_2 + ...
    (the weighted values laid head to tail)."""
    values = as_float_array(values, "values", min_ndim=2)
    if values.ndim != 2 or values.shape[1] != 2:
        raise ValueError(f"values must have shape (n, 2) to be drawn in the plane, got {values.shape}")
    labels = _labels(labels, len(values), "labels")
    ax = _axes(ax, (4, 4))
    zeros = np.zeros(len(values))
    arrows = dict(angles="xy", scale_units="xy", scale=1)
    v_quiver = ax.quiver(zeros, zeros, values[:, 0], values[:, 1], color=INPUT, width=0.012, label="values $v_i$", **arrows)
    path, = ax.plot([], [], "--", color="0.25", linewidth=1, label="$w_1 v_1 + w_2 v_2 + …$")
    out_quiver = ax.quiver([0], [0], [0], [0], color=ACCENT, width=0.02, zorder=3, label="output $\\sum_i w_i v_i$", **arrows)
    texts = [ax.text(*(1.08 * v), "", ha="center", va="center", fontsize=8, color="0.3") for v in values]
    lim = 1.25 * np.abs(values).max()
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xlabel="dimension 1", ylabel="dimension 2")
    ax.axhline(0, color="0.85", linewidth=0.8, zorder=0)
    ax.axvline(0, color="0.85", linewidth=0.8, zorder=0)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    drawn = WeightedSum(v_quiver, out_quiver, path, texts, labels)
    update_weighted_sum(drawn, values, weights)
    return drawn


def update_weighted_sum(drawn, values, weights):
    """Redraw the path and the output arrow for new `weights`: (n,) (values: (n, 2) unchanged)."""
    weights = as_float_array(weights, "weights")
    if weights.shape != (len(values),):
        raise ValueError(f"weights must have shape ({len(values)},), one per value, got {weights.shape}")
    steps = np.vstack([np.zeros((1, 2)), np.cumsum(weights[:, None] * values, axis=0)])  # (n + 1, 2)
    drawn.path.set_data(steps[:, 0], steps[:, 1])
    drawn.output.set_UVC(steps[-1:, 0], steps[-1:, 1])
    for text, label, w in zip(drawn.texts, drawn.labels, weights):
        text.set_text(f"{label} {w:.2f}")


def arrow_tips(quiver):
    """(n, 2) end points of the arrows of a quiver (its offsets plus its vectors): what the picture shows."""
    return quiver.get_offsets() + np.column_stack([np.ravel(quiver.U), np.ravel(quiver.V)])


# ---------------------------------------------------------------------------------------------------
# Many heads: bertviz's two views, in matplotlib.

@styled
def head_view(weights, tokens, ax=None):
    """weights: (n, n); a line from query token i (left) to key token j (right), its opacity and width
    the weight (relative to the largest). Returns the LineCollection."""
    weights = _matrix(weights, "weights")
    n = len(tokens)
    if weights.shape != (n, n):
        raise ValueError(f"weights must have shape (len(tokens), len(tokens)) = ({n}, {n}), got {weights.shape}")
    ax = _axes(ax, (3, 0.6 + 0.3 * n))
    i, j = np.indices((n, n))
    segments = np.stack([np.column_stack([np.zeros(n * n), i.ravel()]),
                         np.column_stack([np.ones(n * n), j.ravel()])], axis=1)  # (n * n, 2 points, xy)
    lines = LineCollection(segments, color=BAR)
    ax.add_collection(lines)
    ax.set_yticks(range(n), tokens)
    for k, token in enumerate(tokens):
        ax.text(1.04, k, token, va="center", fontsize=8)
    ax.set_xticks([0, 1], ["query", "key"])
    ax.set(xlim=(-0.05, 1.05), ylim=(n - 0.5, -0.5), xlabel="attends from → to", ylabel="token")
    ax.tick_params(length=0)
    ax.spines[:].set_visible(False)
    update_head_view(lines, weights)
    return lines


def update_head_view(lines, weights):
    """Restyle the lines of `head_view` for new weights: (n, n)."""
    w = np.ravel(weights)
    scale = w.max() if w.max() > 0 else 1.0
    colors = np.tile(mpl.colors.to_rgba(BAR), (len(w), 1))
    colors[:, 3] = w / scale  # opacity: the strongest link is opaque
    lines.set_color(colors)
    lines.set_linewidth(0.5 + 3 * w / scale)


@styled
def model_view(weights_layers_heads, tokens, query_tokens=None, true_alignment=None):
    """weights_layers_heads: (L, H, n_q, n_k); a new figure (returned) with a grid of small heatmaps, one
    row per layer and one column per head, keys (`tokens`) along x and queries (`query_tokens`, by default
    the same tokens: self-attention) down y. true_alignment: (n_q, n_k) booleans, outlined in every head."""
    w = as_float_array(weights_layers_heads, "weights_layers_heads", min_ndim=4)
    query_tokens = tokens if query_tokens is None else query_tokens
    n_q, n_k = len(query_tokens), len(tokens)
    if w.ndim != 4 or w.shape[2:] != (n_q, n_k):
        raise ValueError(f"weights_layers_heads must have shape (layers, heads, {n_q}, {n_k}) for {n_q} query "
                         f"and {n_k} key tokens, got {w.shape}")
    if true_alignment is not None:
        true_alignment = np.asarray(true_alignment)
        if true_alignment.dtype != np.bool_ or true_alignment.shape != (n_q, n_k):
            raise ValueError(f"true_alignment must be a bool array of shape {(n_q, n_k)}, got "
                             f"{true_alignment.dtype} {true_alignment.shape}")
    n_layers, n_heads = w.shape[:2]
    fig, axes = plt.subplots(n_layers, n_heads, figsize=(1.3 * n_heads + 0.6, 1.3 * n_layers + 0.4),
                             squeeze=False, sharex=True, sharey=True)
    for (layer, head), ax in np.ndenumerate(axes):
        image = ax.imshow(w[layer, head], cmap=CMAP, vmin=0, vmax=1)
        if true_alignment is not None:
            i, j = np.nonzero(true_alignment)
            ax.scatter(j, i, marker="s", s=30, facecolors="none", edgecolors=ACCENT, linewidths=0.8)
        ax.tick_params(length=0, labelsize=6)
        if layer == 0:
            ax.set_title(f"head {head}", fontsize=8)
        if head == 0:
            ax.set_ylabel(f"layer {layer}\nquery", fontsize=8)
        if layer == n_layers - 1:
            ax.set_xlabel("key", fontsize=8)
    # the axes are shared: one call names the tokens on all of them, and only the outer ones show them
    axes[0, 0].set_xticks(range(n_k), [str(t) for t in tokens])
    for ax in axes[-1]:  # each axes has its own tick label objects: rotate those that show (the bottom row)
        ax.tick_params(axis="x", labelrotation=90)
    axes[0, 0].set_yticks(range(n_q), [str(t) for t in query_tokens])
    fig.colorbar(image, ax=axes, fraction=0.03, pad=0.02, label="weight")
    return fig


# The pictures of the models and measurements, drawn with the functions above.
from .applications import FIGSIZES, cross_attention_view, draw_example  # noqa: E402
from .benchmark import METHOD_STYLE, plot_benchmark  # noqa: E402
from .timeline import FIELD_COLOURS, timeline  # noqa: E402
