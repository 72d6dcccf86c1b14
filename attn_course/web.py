"""The explorers on the website: the same sliders, computed and drawn in the reader's browser.

An explorer's mime bundle gains a `text/html` entry: a `<div class="av-explorer">` holding

    a JSON spec    the explorer's inputs and controls, built from the live object (`spec`), and
    the snapshot   its current PNG, which is what a reader without JavaScript sees.

JupyterLab and Colab rank the widget view first and keep the kernel-driven ipywidget; the website
prefers the HTML (`nb_mime_priority_overrides` in _config.yml), where book/_ext/live_static/av-explorers.js
(loaded only by pages that hold an explorer, see book/_ext/live_explorers.py) reads the spec, computes
in attn_course's order of operations in float64, and draws with plain SVG (heatmap cells on a canvas).

The spec is stored in the notebook and compared strictly by nbval, so it holds only what every machine
computes alike: inputs (given numbers, seeded random draws, exact arithmetic such as sorting) and never
a result of BLAS or libm, whose last digits differ between CPUs. Where the browser cannot redo the work
(the trained models' attention, a histogram of 2000 dot products in 512 dimensions) it carries the
results, rounded (`DIGITS`) or as integer counts.

Chapter 6's ExampleExplorer picks one held-out example of a trained model: its spec carries every example
the slider can pick (ids, images, truth and predictions exactly; the attention maps quantised, `levels`),
as base64 bytes, and the page draws what viz.draw_example draws from them. Quantised to 8 bits, a weight
moves by at most half a level (0.002), less than one of the colour map's 256 steps, and a CPU's roundoff
(1e-16) could only change a level for a weight within 1e-16 of a level's edge: in practice never.
"""
import base64
import html
import json

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_hex

from . import data, readout, viz

INPUT = to_hex(viz.INPUT)  # viz.INPUT is matplotlib's grey "0.6", not a colour CSS knows: "#999999"
DIGITS = 9  # decimals kept of a computed weight: far below a colour step, far above roundoff (1e-16)


def _floats(a):
    """Nested lists of Python floats: json writes each as the shortest text that reads back to the same
    double, in Python and in JavaScript alike."""
    return np.asarray(a, dtype=float).tolist()


def _rounded(a):
    return np.round(np.asarray(a, dtype=float), DIGITS).tolist()


def _slider(control):
    return {"label": control.description, "value": control.value, "min": control.min, "max": control.max,
            "step": control.step}


def _log_slider(control):
    """A FloatLogSlider: the range input moves the exponent, the value is base ** exponent."""
    return {"label": control.description, "value": control.value, "min": control.min, "max": control.max,
            "step": control.step, "base": control.base, "log": True}


def _colormap(name=viz.CMAP):
    """A colour map (viz.CMAP unless named) as 256 colours, "#rrggbb", so the page's heatmaps use the package's."""
    rgba = colormaps[name](np.linspace(0, 1, 256), bytes=True)
    return ["#%02x%02x%02x" % tuple(c[:3]) for c in rgba]


def spec(explorer):
    """The JSON-able spec of an explorer, or None for one the website cannot run (it keeps the snapshot)."""
    from . import widgets  # widgets imports web lazily too: neither needs the other to load

    c = explorer.controls
    if isinstance(explorer, widgets.SoftmaxExplorer):
        return {"kind": "softmax", "labels": explorer.labels, "logits": [_slider(c[label]) for label in explorer.labels],
                "T": _log_slider(c["T"]), "bar": viz.BAR}
    if isinstance(explorer, widgets.WeightedSumExplorer):
        return {"kind": "weighted_sum", "labels": explorer.labels, "keys": _floats(explorer.k),
                "values": _floats(explorer.v), "angle": _slider(c["angle"]), "length": _slider(c["length"]),
                "bar": viz.BAR, "accent": viz.ACCENT}
    if isinstance(explorer, widgets.ScalingExplorer):
        # (2000,) q·k per d_k, as the explorer sums them; only their bins and spread travel
        sums = {d: np.einsum("pd,pd->p", explorer.q_pairs[:, :d], explorer.k_pairs[:, :d]) for d in explorer.D_KS}
        return {"kind": "scaling", "d_ks": list(explorer.D_KS), "d_k": c["d_k"].value,
                "q_row": _floats(explorer.q_row), "k_row": _floats(explorer.k_row), "edges": _floats(explorer.edges),
                "raw_counts": [np.histogram(s, explorer.edges)[0].tolist() for s in sums.values()],
                "scaled_counts": [np.histogram(s / np.sqrt(d), explorer.edges)[0].tolist() for d, s in sums.items()],
                "std": [f"{s.std():.1f}" for s in sums.values()], "input": INPUT, "accent": viz.ACCENT}
    if isinstance(explorer, widgets.MaskExplorer):
        return {"kind": "mask", "tokens": explorer.tokens, "x": _floats(explorer.x),
                "on": explorer.mask.tolist(), "causal": c["causal"].value, "annotate": len(explorer.tokens) <= 6,
                "cmap": _colormap()}
    if isinstance(explorer, widgets.KernelRegressionExplorer):
        # y_i = truth(x_i) + noise_i: the noise is a seeded draw; truth (sin, power) is recomputed in the page
        return {"kind": "kernel_regression", "x_train": _floats(explorer.x_train), "noise": _floats(explorer.noise),
                "x_test": _floats(explorer.x_test), "h": _log_slider(c["h"]), "input": INPUT,
                "accent": viz.ACCENT, "cmap": _colormap()}
    if isinstance(explorer, widgets.MultiHeadExplorer):
        layers = "layer" in c
        return {"kind": "multi_head", "tokens": explorer.tokens, "weights": _rounded(explorer.weights_heads),
                "head": _slider(c["head"]), "layer": _slider(c["layer"]) if layers else None,
                "bar": viz.BAR, "cmap": _colormap()}
    if isinstance(explorer, widgets.RotaryExplorer):
        # q, k, base are inputs: the page turns them as rotary_embedding does and takes the dot products
        return {"kind": "rotary", "q": _floats(explorer.q), "k": _floats(explorer.k), "base": float(explorer.base),
                "m": _slider(c["m"]), "n": _slider(c["n"]), "pair": _slider(c["pair"]),
                "max_position": explorer.max_position, "input": INPUT, "accent": viz.ACCENT}
    if isinstance(explorer, widgets.ExampleExplorer):
        return _example(explorer.result, c["example"])
    return None


# ---------------------------------------------------------------------------------------------------
# Chapter 6's held-out examples, compactly: every array as base64 bytes, one row per example

WEIGHT_STEPS = 255        # attention weights in [0, 1]: 8-bit levels, within half a level (0.002)
BAR_STEPS = 100           # the sentiment bars: hundredths, so their labels ("0.27") are the kernel's own
IMAGE_STEPS = 16          # the digits are counts 0..16 (sklearn's), /16: exact
SPECTROGRAM_STEPS = 15    # a spectrogram, between its own min and max: 4 bits (16 greys), two to a byte: at 8 bits
                          # the 300 recordings' 1024 cells each would be 410 KB of the notebook, for the grey backdrop


def levels(a, lo, hi, steps):
    """a (any shape), between lo and hi (broadcast), as integers 0..steps: lo + k (hi - lo) / steps is
    within half a step of a. What the website draws from; `dequantised` reads them back."""
    a = np.asarray(a, dtype=float)
    span = np.where(np.asarray(hi) > lo, np.asarray(hi, dtype=float) - lo, 1.0)
    k = np.rint(steps * (a - lo) / span)
    if k.min() < 0 or k.max() > steps:
        raise ValueError(f"values must lie between lo and hi, got {a.min()} .. {a.max()} for {lo} .. {hi}")
    return k.astype(np.uint8)


def dequantised(k, lo, hi, steps):
    """The values that `levels` k stand for, as the page computes them: lo + k (hi - lo) / steps."""
    return lo + np.asarray(k, dtype=float) * ((np.asarray(hi, dtype=float) - lo) / steps)


def _bytes(a):
    a = np.asarray(a)
    if a.size and (a.min() < 0 or a.max() > 255):
        raise ValueError(f"only values 0..255 travel as bytes, got {a.min()} .. {a.max()}")
    return base64.b64encode(a.astype(np.uint8).tobytes()).decode("ascii")


def _bits(a):
    """Booleans, 8 to a byte, first one in the high bit (np.packbits)."""
    return base64.b64encode(np.packbits(np.asarray(a, dtype=bool).ravel()).tobytes()).decode("ascii")


def _nibbles(k):
    """Integers 0..15, two to a byte, the first in the high half."""
    k = np.asarray(k, dtype=np.uint8).ravel()
    k = np.append(k, np.zeros(len(k) % 2, np.uint8))
    return _bytes(16 * k[0::2] + k[1::2])


def _example(r, control):
    """ExampleExplorer(r): every example of Result r, for viz.draw_example's picture of r.name."""
    s = {"kind": "example", "name": r.name, "example": _slider(control), "cmap": _colormap(), "accent": viz.ACCENT}
    if r.name == "translation":
        s.update(source_vocab=list(data.DATE_SOURCE_VOCAB), target_vocab=list(data.DATE_TARGET_VOCAB),
                 shape=list(r.weights.shape[1:]), source=_bytes(r.inputs), predicted=_bytes(r.predictions),
                 right=_bytes((r.predictions == r.truth).all(axis=1)), alignment=_bits(r.alignment),
                 weights=_bytes(levels(r.weights, 0, 1, WEIGHT_STEPS)), steps=WEIGHT_STEPS)
    elif r.name == "sentiment":
        s.update(vocab=list(data.SENTIMENT_VOCAB), labels=list(data.SENTIMENT_LABELS), length=r.inputs.shape[1],
                 words=_bytes(r.inputs), truth=_bytes(r.truth), predicted=_bytes(r.predictions),
                 carriers=_bits(r.alignment), weights=_bytes(levels(r.weights, 0, 1, BAR_STEPS)), steps=BAR_STEPS,
                 input=INPUT)
    elif r.name == "vit":
        maps = np.array([readout.cls_maps(r, i) for i in range(len(r.truth))])  # (n, 2: raw and rollout, g, g)
        flat = maps.reshape(2 * len(maps), -1)                                   # (2 n, g g) one row per map
        lo, hi = flat.min(axis=1, keepdims=True), flat.max(axis=1, keepdims=True)
        # each map's levels span its own min..max, as matplotlib's colour scale does; the ends, to 4 decimals,
        # label its colour bar
        s.update(side=r.inputs.shape[1], grid=maps.shape[2], truth=_bytes(r.truth), predicted=_bytes(r.predictions),
                 image=_bytes(levels(r.inputs, 0, 1, IMAGE_STEPS)), image_steps=IMAGE_STEPS,
                 maps=_bytes(levels(flat, lo, hi, WEIGHT_STEPS)), lo=np.round(lo[:, 0], 4).tolist(),
                 hi=np.round(hi[:, 0], 4).tolist(), steps=WEIGHT_STEPS, greys=_colormap("Greys"))
    elif r.name == "speech":
        spectra = r.inputs.transpose(0, 2, 1)                                    # (n, bins, frames) as drawn
        flat = spectra.reshape(len(spectra), -1)
        lo, hi = flat.min(axis=1, keepdims=True), flat.max(axis=1, keepdims=True)
        s.update(keys=list(data.DTMF_KEYS), shape=list(r.weights.shape[1:]), bins=spectra.shape[1],
                 hz=[data.FREQ_BINS.start * data.BIN_HZ, data.FREQ_BINS.stop * data.BIN_HZ],
                 xlabel=f"frame ({1000 * data.FRAME_SECONDS:.0f} ms each)", truth=_bytes(r.truth),
                 predicted=_bytes(r.predictions), alignment=_bits(r.alignment),
                 weights=_bytes(levels(r.weights, 0, 1, WEIGHT_STEPS)), steps=WEIGHT_STEPS,
                 spectrogram=_nibbles(levels(flat, lo, hi, SPECTROGRAM_STEPS)), spectrogram_steps=SPECTROGRAM_STEPS,
                 greys=_colormap("Greys"))
    else:
        return None
    return s


def to_html(spec_, png):
    """The div the website turns into a live explorer; `png` (bytes) inside it for readers without JavaScript."""
    text = json.dumps(spec_, separators=(",", ":"), allow_nan=False)
    text = text.replace("</", "<\\/")  # a token such as "</s>" must not close the script element
    picture = base64.b64encode(png).decode("ascii")
    return (f'<div class="av-explorer" data-kind="{html.escape(spec_["kind"])}">'
            f'<script type="application/json" class="av-spec">{text}</script>'
            f'<img class="av-snapshot" alt="{html.escape(spec_["kind"].replace("_", " "))} explorer (snapshot)" '
            f'src="data:image/png;base64,{picture}"></div>')


def mimebundle(explorer, bundle):
    """`bundle` (the widget's own) plus the website's `text/html`, when the explorer has a spec."""
    s = spec(explorer)
    if s is not None:
        bundle = {**bundle, "text/html": to_html(s, explorer.image.value)}
    return bundle
