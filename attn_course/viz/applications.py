"""Pictures of the trained models: one held-out example of an application (chapter 6), cross-attention (6b)."""
import numpy as np
from matplotlib.patches import Rectangle

from .. import data, readout
from . import ACCENT, INPUT, alignment, heatmap, model_view, patch_overlay, softmax_bars

FIGSIZES = {"translation": (4.6, 4.4), "sentiment": (5.5, 3.0), "vit": (9.0, 2.8), "speech": (7.0, 4.6)}
"""The figure size that draw_example's picture of each application needs."""


def draw_example(figure, result, i):
    """Draw example i of a Result on `figure` (cleared first), in the picture for its application."""
    figure.clear()
    name = result.name
    if name == "translation":
        source = data.decode(result.inputs[i], data.DATE_SOURCE_VOCAB)
        predicted = data.decode(result.predictions[i], data.DATE_TARGET_VOCAB)
        ax = figure.add_subplot()
        alignment(result.weights[i], source, predicted, ax=ax, true_alignment=result.alignment[i])
        mark = "right" if (result.predictions[i] == result.truth[i]).all() else "wrong"
        ax.set_title(f"{''.join(source)} → {' '.join(predicted)}  ({mark})", pad=28)
    elif name == "sentiment":
        mask = result.inputs[i] != 0
        words = data.decode(result.inputs[i][mask], data.SENTIMENT_VOCAB)
        ax = figure.add_subplot()
        bars = softmax_bars(result.weights[i][mask], labels=words, ax=ax)
        for rect, carrier in zip(bars.bars, result.alignment[i][mask]):
            rect.set_color(ACCENT if carrier else INPUT)
        labels = data.SENTIMENT_LABELS
        ax.set(xlabel="word (red: carries the sentiment)", ylabel="attention weight",
               title=f"true: {labels[result.truth[i]]}, predicted: {labels[result.predictions[i]]}")
        ax.tick_params(axis="x", rotation=45)
    elif name == "vit":
        raw, rolled = readout.cls_maps(result, i)
        ax_image, ax_raw, ax_roll = figure.subplots(1, 3)
        ax_image.imshow(result.inputs[i], cmap="Greys", extent=(0, 8, 8, 0))
        ax_image.set(title=f"digit {result.truth[i]}, predicted {result.predictions[i]}",
                     xlabel="x (pixels)", ylabel="y (pixels)")
        for ax, weights, title in [(ax_raw, raw, "raw attention, last layer"), (ax_roll, rolled, "attention rollout")]:
            patch_overlay(result.inputs[i], weights, 2, ax=ax)
            ax.set_title(title)
    else:
        keys = [data.DTMF_KEYS[k] for k in result.predictions[i]]
        ax_spec, ax_align = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1.3, 1]})
        frames = result.inputs[i].shape[0]
        extent = (-0.5, frames - 0.5, data.FREQ_BINS.start * data.BIN_HZ, data.FREQ_BINS.stop * data.BIN_HZ)
        ax_spec.imshow(result.inputs[i].T, origin="lower", aspect="auto", extent=extent, cmap="Greys")
        ax_spec.set(ylabel="frequency (Hz)", title=f"keys pressed: {' '.join(data.DTMF_KEYS[k] for k in result.truth[i])}"
                                                   f",  decoded: {' '.join(keys)}")
        heatmap(result.weights[i], y_labels=keys, ax=ax_align, annotate=False)
        ax_align.set(xlabel=f"frame ({1000 * data.FRAME_SECONDS:.0f} ms each)", ylabel="decoded key (query)")
        for row, frames_on in enumerate(result.alignment[i]):
            on = np.flatnonzero(frames_on)
            ax_align.add_patch(Rectangle(
                (on[0] - 0.5, row - 0.5), len(on), 1, fill=False, edgecolor=ACCENT, linewidth=1.5))
    return figure


def cross_attention_view(weights, source_tokens, target_tokens, true_alignment=None):
    """weights: (layers, heads, T, S), e.g. Attention.cross[i]; a new figure (returned): model_view for the
    rectangular weights of cross-attention, keys (source) along x, queries (target) down y, the true
    alignment outlined."""
    fig = model_view(weights, source_tokens, query_tokens=target_tokens, true_alignment=true_alignment)
    for ax in fig.axes[:-1]:  # the last axes is the colorbar
        if ax.get_ylabel():
            ax.set_ylabel(ax.get_ylabel().replace("query", "target (query)"), fontsize=7)
        if ax.get_xlabel():
            ax.set_xlabel("source (key)", fontsize=7)
    return fig
