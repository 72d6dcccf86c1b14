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
"""
import base64
import html
import json

import numpy as np
from matplotlib import colormaps

from . import viz

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


def _colormap():
    """viz.CMAP as 256 colours, "#rrggbb", so the page's heatmaps use the package's one colour scale."""
    rgba = colormaps[viz.CMAP](np.linspace(0, 1, 256), bytes=True)
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
                "std": [f"{s.std():.1f}" for s in sums.values()], "input": viz.INPUT, "accent": viz.ACCENT}
    if isinstance(explorer, widgets.MaskExplorer):
        return {"kind": "mask", "tokens": explorer.tokens, "x": _floats(explorer.x),
                "on": explorer.mask.tolist(), "causal": c["causal"].value, "annotate": len(explorer.tokens) <= 6,
                "cmap": _colormap()}
    if isinstance(explorer, widgets.KernelRegressionExplorer):
        # y_i = truth(x_i) + noise_i: the noise is a seeded draw; truth (sin, power) is recomputed in the page
        return {"kind": "kernel_regression", "x_train": _floats(explorer.x_train), "noise": _floats(explorer.noise),
                "x_test": _floats(explorer.x_test), "h": _log_slider(c["h"]), "input": viz.INPUT,
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
                "max_position": explorer.max_position, "input": viz.INPUT, "accent": viz.ACCENT}
    return None


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
