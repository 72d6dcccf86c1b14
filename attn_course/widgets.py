"""Live explorers: sliders that redraw a picture of attention.

Each explorer is an `ipywidgets.VBox` of controls above an `ipywidgets.Image`. The matplotlib figure
is built once (a bare `Figure`, not pyplot, so nothing else is shown inline); moving a control moves
its artists and re-encodes the PNG. An Image rather than an `Output` widget because a notebook's stored
outputs must equal a re-run's (strict nbval), and the website shows the stored widget state: the
controls and the last picture.

    explorer.controls   every control, by name (set `.value` to move it from Python)
    explorer.figure     the one matplotlib Figure, kept for the explorer's lifetime
    explorer.drawn()    what the picture shows now, read back from its artists

Every explorer is a subclass of `Explorer`, which does the drawing and the PNG; a new one defines
`_draw` (build the figure once) and `_update` (move its artists). ExampleExplorer (chapter 6) picks a
held-out example of a trained model's Result (attn_course.evaluation) and draws it with viz.draw_example.
"""
import io

import ipywidgets as widgets
import numpy as np
import PIL.Image
from matplotlib import colors as mpl_colors
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from . import viz
from ._checks import as_float_array, positive, positive_int
from .attention import scaled_dot_product_attention
from .readout import Result
from .positional import rotary_embedding
from .softmax import softmax

DPI = 80  # small PNGs: fast to encode on every event, small in the stored notebook


class Explorer(widgets.VBox):
    """Builds the figure once (`_draw`); on every control change `_update`s its artists and re-encodes the PNG.

    Only the artists passed to `_animate` change, so the rest (axes, ticks, labels: most of the drawing
    time) is rendered once and kept as pixels; each event pastes those pixels back and draws the moving
    artists on top, which is matplotlib's blitting, into a PNG instead of a window. A subclass that
    changes anything else (axis limits) sets `self._background = None` to have it all redrawn once.
    """

    def __init__(self, controls, figsize, rows=None):
        """controls: {name: widget}; rows: how to lay them out above the picture (default: one per row)."""
        self.controls = controls
        self._moving, self._background, self._stamps, self._scratch = [], None, {}, None
        with viz.style():
            self.figure = Figure(figsize=figsize, dpi=DPI)
            FigureCanvasAgg(self.figure)  # draws to pixels, whatever backend the notebook uses
            self._draw()
            self.figure.tight_layout()  # once: laying out on every event would cost more than drawing
        self._update()
        self.image = widgets.Image(value=self._png(), format="png")
        for control in controls.values():
            control.observe(self._changed, names="value")
        super().__init__([*(rows or controls.values()), self.image])

    def _repr_mimebundle_(self, **kwargs):
        """The widget, plus a text/html the website runs in the browser (attn_course.web); JupyterLab ranks the widget first."""
        from . import web
        return web.mimebundle(self, super()._repr_mimebundle_(**kwargs))

    def _animate(self, *artists):
        """Mark artists (or lists, tuples, containers of them) as the ones `_update` moves."""
        for artist in artists:
            if isinstance(artist, (list, tuple)):  # matplotlib's containers and viz's namedtuples are tuples
                self._animate(*artist)
            elif isinstance(artist, Artist):
                artist.set_animated(True)
                self._moving.append(artist)

    def _paste(self, text):
        """Draw `text` from a cache of its pixels. Laying out and rasterising glyphs costs ~1 ms per text per
        event, a heatmap has dozens, and their strings repeat ("0.25"); pasting costs ~0.01 ms, same pixels."""
        key = (id(text), text.get_text(), str(text.get_color()), text.get_position())  # what explorers change
        if key not in self._stamps:
            if len(self._stamps) > 5000:  # a bound, not a tuned size: an entry is a few hundred bytes
                self._stamps.clear()
            self._stamps[key] = self._stamp(text)
        x0, y0, pixels = self._stamps[key]
        if pixels.size:
            renderer = self.figure.canvas.get_renderer()
            renderer.draw_image(renderer.new_gc(), x0, y0, pixels)

    def _stamp(self, text):
        """(x0, y0, pixels): `text` drawn alone on a transparent canvas, cut to its box (plus 2 pixels)."""
        w, h = self.figure.canvas.get_width_height()
        if self._scratch is None:
            self._scratch = RendererAgg(w, h, self.figure.dpi)
        self._scratch.clear()
        text.draw(self._scratch)
        box = text.get_window_extent(self._scratch)
        x0, x1 = max(int(box.x0) - 2, 0), min(int(np.ceil(box.x1)) + 2, w)
        y0, y1 = max(int(box.y0) - 2, 0), min(int(np.ceil(box.y1)) + 2, h)
        # the buffer's rows run top-down, draw_image's bottom-up
        return x0, y0, np.asarray(self._scratch.buffer_rgba())[h - y1:h - y0, x0:x1][::-1].copy()

    def _changed(self, change):
        self._update()
        self.image.value = self._png()

    def _png(self):
        canvas = self.figure.canvas
        if self._background is None:
            canvas.draw()  # everything but the moving artists
            self._background = canvas.copy_from_bbox(self.figure.bbox)
        canvas.restore_region(self._background)
        for artist in self._moving:
            if isinstance(artist, Text):
                self._paste(artist)
            else:
                self.figure.draw_artist(artist)
        buffer = io.BytesIO()
        # PIL writes no timestamp or software name: the bytes depend only on the picture.
        # compress_level=1: a third faster than the default, for a PNG about 10% larger.
        PIL.Image.fromarray(np.asarray(canvas.buffer_rgba())).save(buffer, format="png", compress_level=1)
        return buffer.getvalue()


def _slider(description, value, lo, hi, step):
    return widgets.FloatSlider(value=value, min=lo, max=hi, step=step, description=description, readout_format=".2f")


def _vectors_2d(x, name):
    x = as_float_array(x, name, min_ndim=2)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"{name} must have shape (n, 2): one 2-D vector per token, got shape {x.shape}")
    return x


def _labels(labels, n, per, default):
    """n labels as strings; `default`1, `default`2, ... when none are given."""
    if labels is None:
        return [f"{default}{i + 1}" for i in range(n)]
    labels = [str(label) for label in labels]
    if len(labels) != n:
        raise ValueError(f"labels must have one label per {per} ({n}), got {len(labels)}: {labels}")
    return labels


# ---------------------------------------------------------------------------------------------------

class SoftmaxExplorer(Explorer):
    """One slider per logit and one for the temperature T; bars: softmax(logits / T)."""

    def __init__(self, logits, labels=None, temperature=1.0):
        logits = as_float_array(logits, "logits")
        if logits.ndim != 1 or logits.size == 0:
            raise ValueError(f"logits must be a non-empty 1-D list of numbers, got shape {logits.shape}")
        temperature = positive(temperature, "temperature")
        self.labels = _labels(labels, len(logits), "logit", "z")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"labels must be distinct, they name the sliders; got {self.labels}")
        # The range covers the given logits; +-5 is where softmax is already almost one-hot.
        lo, hi = min(-5.0, np.floor(logits.min())), max(5.0, np.ceil(logits.max()))
        controls = {label: _slider(label, z, lo, hi, 0.1) for label, z in zip(self.labels, logits)}
        exponent = np.log10(temperature)
        controls["T"] = widgets.FloatLogSlider(value=temperature, base=10, min=min(-1.0, exponent), max=max(1.0, exponent),
                                               step=0.05, description="T", readout_format=".2f")
        super().__init__(controls, figsize=(1.6 + 0.55 * len(logits), 2.6))

    @property
    def logits(self):
        """(n,) the logits the sliders show now."""
        return np.array([self.controls[label].value for label in self.labels])

    @property
    def temperature(self):
        return self.controls["T"].value

    def _draw(self):
        ax = self.figure.add_subplot()
        self.bars = viz.softmax_bars(np.zeros(len(self.labels)), labels=self.labels, ax=ax)
        self.title = ax.set_title("softmax(z / T),  T = 1.00")  # a stand-in of the right size for the layout
        self._animate(self.bars, self.title)

    def _update(self):
        probs = softmax(self.logits, temperature=self.temperature)
        viz.update_bars(self.bars, probs)
        self.title.set_text(f"softmax(z / T),  T = {self.temperature:.2f}")

    def drawn(self):
        """{"probs": (n,) bar heights} as drawn."""
        return {"probs": np.array([rect.get_height() for rect in self.bars.bars])}

    def __repr__(self):
        return f"SoftmaxExplorer(logits={np.round(self.logits, 2).tolist()}, temperature={self.temperature:.2f})"


class WeightedSumExplorer(Explorer):
    """Turn the query q (angle, length): weights w = softmax(q·k / √2) change, and the output Σ w_i v_i moves.

    keys: (n, 2), values: (n, 2), query: (2,) the starting query (default: the first key).
    """

    def __init__(self, keys, values, query=None, labels=None):
        self.k = _vectors_2d(keys, "keys")
        self.v = _vectors_2d(values, "values")
        if len(self.k) != len(self.v):
            raise ValueError(f"keys and values must have one row per token: keys has {len(self.k)} rows "
                             f"(shape {self.k.shape}), values has {len(self.v)} (shape {self.v.shape})")
        query = self.k[0] if query is None else as_float_array(query, "query")
        if query.shape != (2,):
            raise ValueError(f"query must have shape (2,), got {query.shape}")
        self.labels = _labels(labels, len(self.k), "key", "k")
        length = float(np.hypot(*query))
        controls = {"angle": _slider("angle (°)", round(np.degrees(np.arctan2(query[1], query[0]))), -180, 180, 1),
                    "length": _slider("length", round(length, 2), 0.0, max(2.0, np.ceil(length)), 0.05)}
        controls["angle"].readout_format = ".0f"
        super().__init__(controls, figsize=(7.2, 2.7))

    @property
    def query(self):
        """(2,) the query the sliders describe."""
        angle = np.radians(self.controls["angle"].value)
        return self.controls["length"].value * np.array([np.cos(angle), np.sin(angle)])

    def _draw(self):
        ax_k, ax_w, ax_v = self.figure.subplots(1, 3, gridspec_kw={"width_ratios": [1, 0.8, 1]})
        n = len(self.k)
        zeros = np.zeros(n)
        arrows = dict(angles="xy", scale_units="xy", scale=1)
        ax_k.quiver(zeros, zeros, self.k[:, 0], self.k[:, 1], color=viz.INPUT, width=0.015, **arrows)
        for key, label in zip(self.k, self.labels):
            ax_k.text(*(1.12 * key), label, ha="center", va="center", fontsize=8)
        self.query_arrow = ax_k.quiver([0], [0], [0], [0], color=viz.ACCENT, width=0.025, zorder=3, **arrows)
        lim = 1.1 * max(np.abs(self.k).max(), self.controls["length"].max)  # room for the longest query
        ax_k.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", title="keys and query q",
                 xlabel="dimension 1", ylabel="dimension 2")

        self.bars = viz.softmax_bars(np.zeros(n), labels=self.labels, ax=ax_w)
        ax_w.set(title="w = softmax(q·k / √2)", xlabel="key", ylabel="weight")

        self.sum = viz.weighted_sum(self.v, np.zeros(n), labels=self.labels, ax=ax_v)
        ax_v.get_legend().remove()  # the titles say it; a legend would squeeze the three panels
        ax_v.set_title("output Σ w_i v_i")
        self._animate(self.query_arrow, self.bars, self.sum.path, self.sum.output, self.sum.texts)

    def _update(self):
        _, weights = scaled_dot_product_attention(self.query[None, :], self.k, self.v)  # weights: (1, n)
        self.query_arrow.set_UVC(*self.query[:, None])
        viz.update_bars(self.bars, weights[0])
        viz.update_weighted_sum(self.sum, self.v, weights[0])

    def drawn(self):
        """{"query": (2,) query arrow tip, "weights": (n,) bar heights, "output": (2,) output arrow tip}."""
        return {"query": viz.arrow_tips(self.query_arrow)[0],
                "weights": np.array([rect.get_height() for rect in self.bars.bars]),
                "output": viz.arrow_tips(self.sum.output)[0]}

    def __repr__(self):
        c = self.controls
        return f"WeightedSumExplorer(n={len(self.k)}, angle={c['angle'].value:.0f}, length={c['length'].value:.2f})"


class ScalingExplorer(Explorer):
    """Why attention divides by √d_k: pick d_k and see the raw scores q·k of unit-variance vectors spread
    out as √d_k (left, against the scaled q·k / √d_k), and softmax over one row of 8 raw scores saturate
    to one-hot while the scaled row stays soft (right).

    Every d_k uses the first d_k coordinates of the same seeded vectors, so moving the slider adds
    dimensions instead of drawing new numbers.
    """

    D_KS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)

    def __init__(self, d_k=64, n_keys=8, seed=0):
        if d_k not in self.D_KS:
            raise ValueError(f"d_k must be one of {self.D_KS}, got {d_k!r}")
        if not 2 <= positive_int(n_keys, "n_keys") <= 32:
            raise ValueError(f"n_keys must be between 2 and 32, got {n_keys}")
        rng = np.random.default_rng(seed)
        d_max = self.D_KS[-1]
        self.q_pairs, self.k_pairs = rng.standard_normal((2, 2000, d_max))  # 2000 (q, k) pairs for the histogram
        self.q_row, self.k_row = rng.standard_normal(d_max), rng.standard_normal((n_keys, d_max))
        self.edges = np.linspace(-60, 60, 81)  # fixed bins: the axes never change, only the histograms
        controls = {"d_k": widgets.SelectionSlider(options=self.D_KS, value=d_k, description="d_k")}
        super().__init__(controls, figsize=(7.2, 2.7))

    def _scores(self):
        d = self.controls["d_k"].value
        pairs = np.einsum("pd,pd->p", self.q_pairs[:, :d], self.k_pairs[:, :d])  # (2000,) q·k
        row = self.k_row[:, :d] @ self.q_row[:d]  # (n_keys,)
        return d, pairs, row

    def _draw(self):
        ax_h, ax_s = self.figure.subplots(1, 2)
        empty = np.zeros(len(self.edges) - 1)
        self.raw_hist = ax_h.stairs(empty, self.edges, fill=True, color=viz.INPUT, label="q·k")
        self.scaled_hist = ax_h.stairs(empty, self.edges, color=viz.ACCENT, linewidth=1.5, label="q·k / √d_k")
        self.spread = ax_h.text(0.02, 0.97, "", transform=ax_h.transAxes, va="top", fontsize=8)
        ax_h.set(xlim=(self.edges[0], self.edges[-1]), ylim=(0, 0.6), xlabel="score", ylabel="density",
                 title="scores of random q, k")
        ax_h.legend(loc="upper right")

        n = len(self.k_row)
        width = 0.4
        self.raw_bars = ax_s.bar(np.arange(n) - width / 2, empty[:n], width, color=viz.INPUT, label="softmax(q·k)")
        self.scaled_bars = ax_s.bar(np.arange(n) + width / 2, empty[:n], width, color=viz.ACCENT,
                                    label="softmax(q·k / √d_k)")
        ax_s.set(ylim=(0, 1.15), xticks=range(n), xlabel="key", ylabel="weight")
        ax_s.legend(loc="upper right")
        self.title = ax_s.set_title("largest weight 1.00 → 1.00")
        self._animate(self.raw_hist, self.scaled_hist, self.spread, self.raw_bars, self.scaled_bars, self.title)

    def _update(self):
        d, pairs, row = self._scores()
        self.raw_hist.set_data(np.histogram(pairs, self.edges, density=True)[0])
        self.scaled_hist.set_data(np.histogram(pairs / np.sqrt(d), self.edges, density=True)[0])
        self.spread.set_text(f"std of q·k: {pairs.std():.1f}  (√d_k = {np.sqrt(d):.1f})")
        raw, scaled = softmax(row), softmax(row / np.sqrt(d))
        for bars, heights in [(self.raw_bars, raw), (self.scaled_bars, scaled)]:
            for rect, h in zip(bars, heights):
                rect.set_height(h)
        self.title.set_text(f"largest weight {raw.max():.2f} → {scaled.max():.2f} scaled")

    def drawn(self):
        """{"raw_hist", "scaled_hist": (80,) densities; "softmax_raw", "softmax_scaled": (n_keys,) bar heights}."""
        return {"raw_hist": self.raw_hist.get_data().values, "scaled_hist": self.scaled_hist.get_data().values,
                "softmax_raw": np.array([r.get_height() for r in self.raw_bars]),
                "softmax_scaled": np.array([r.get_height() for r in self.scaled_bars])}

    def __repr__(self):
        return f"ScalingExplorer(d_k={self.controls['d_k'].value}, n_keys={len(self.k_row)})"


class MaskExplorer(Explorer):
    """Self-attention over `tokens` (seeded random vectors, d_k wide); switch keys off and the causal mask on.

    A switched-off key gets weight 0 in every row; a row with no key left is all zeros (see softmax).
    """

    def __init__(self, tokens, d_k=4, causal=False, seed=0):
        self.tokens = [str(t) for t in tokens]
        if not 2 <= len(self.tokens) <= 12:
            raise ValueError(f"tokens must hold between 2 and 12 tokens, got {len(self.tokens)}")
        self.x = np.random.default_rng(seed).standard_normal((len(self.tokens), positive_int(d_k, "d_k")))  # (n, d_k)
        # Named by position: a sentence may repeat a word ("the cat sat on the mat").
        controls = {f"key {i}": widgets.ToggleButton(value=True, description=t, tooltip=f"may attend to {t!r}",
                                                     layout=widgets.Layout(width="auto"))
                    for i, t in enumerate(self.tokens)}
        controls["causal"] = widgets.Checkbox(value=bool(causal), description="causal", indent=False)
        rows = [widgets.HBox([widgets.Label("keys:"), *list(controls.values())[:-1]]), controls["causal"]]
        size = 1.6 + 0.45 * len(self.tokens)
        super().__init__(controls, figsize=(size + 0.8, size), rows=rows)

    @property
    def mask(self):
        """(n,) True for the keys switched on."""
        return np.array([self.controls[f"key {i}"].value for i in range(len(self.tokens))])

    def _draw(self):
        n = len(self.tokens)
        self.heatmap = viz.heatmap(np.zeros((n, n)), x_labels=self.tokens, y_labels=self.tokens,
                                   ax=self.figure.add_subplot(), annotate=n <= 6)  # numbers cost ~1 ms each per event
        self._animate(self.heatmap.image, self.heatmap.texts)

    def _update(self):
        _, weights = scaled_dot_product_attention(self.x, self.x, self.x, mask=self.mask[None, :],
                                                  causal=self.controls["causal"].value)
        viz.update_heatmap(self.heatmap, weights)

    def drawn(self):
        """{"weights": (n, n) the heatmap's data}."""
        return {"weights": np.array(self.heatmap.image.get_array())}

    def __repr__(self):
        off = [t for t, on in zip(self.tokens, self.mask) if not on]
        return f"MaskExplorer(tokens={len(self.tokens)}, off={off}, causal={self.controls['causal'].value})"


class KernelRegressionExplorer(Explorer):
    """Nadaraya–Watson kernel regression (1964) as attention: the prediction at x is a weighted average of
    the training targets y_i, weights = softmax over i of -(x - x_i)² / (2 h²) (a Gaussian kernel).

    Data as in d2l.ai §11.2: x_i uniform on [0, 5], y_i = 2 sin x_i + x_i^0.8 + N(0, 0.5²), seeded.
    Move the bandwidth h: small h copies the nearest points (noisy), large h averages everything (flat).
    """

    def __init__(self, n_train=50, bandwidth=0.5, seed=0):
        if not 2 <= positive_int(n_train, "n_train") <= 200:
            raise ValueError(f"n_train must be between 2 and 200, got {n_train}")
        bandwidth = positive(bandwidth, "bandwidth")
        rng = np.random.default_rng(seed)
        self.x_train = np.sort(rng.uniform(0, 5, n_train))                   # (n_train,) keys
        self.noise = rng.normal(0, 0.5, n_train)                             # (n_train,) seeded, the same everywhere
        self.y_train = self.truth(self.x_train) + self.noise                 # (n_train,) values
        self.x_test = np.arange(0, 5, 0.1)                                   # (50,) queries
        exponent = np.log10(bandwidth)
        controls = {"h": widgets.FloatLogSlider(value=bandwidth, base=10, min=min(-1.5, exponent),
                                                max=max(0.5, exponent), step=0.02, description="bandwidth h",
                                                readout_format=".2f")}
        super().__init__(controls, figsize=(7.2, 2.9))

    @staticmethod
    def truth(x):
        return 2 * np.sin(x) + x ** 0.8

    def weights(self):
        """(n_test, n_train) attention of each test point over the training points, for the slider's h."""
        h = self.controls["h"].value
        return softmax(-(self.x_test[:, None] - self.x_train[None, :]) ** 2 / (2 * h ** 2))

    def _draw(self):
        ax_f, ax_w = self.figure.subplots(1, 2)
        ax_f.plot(self.x_train, self.y_train, "o", color=viz.INPUT, markersize=3, label="training data")
        ax_f.plot(self.x_test, self.truth(self.x_test), "--", color="0.3", linewidth=1, label="truth")
        self.fit, = ax_f.plot(self.x_test, np.zeros_like(self.x_test), color=viz.ACCENT, linewidth=2,
                              label="prediction")
        ax_f.set(xlabel="x", ylabel="y", ylim=(self.y_train.min() - 0.5, self.y_train.max() + 0.5))
        ax_f.legend(loc="lower left")
        self.title = ax_f.set_title("h = 1.00")
        self.heatmap = viz.heatmap(np.zeros((len(self.x_test), len(self.x_train))), ax=ax_w, annotate=False)
        ax_w.set(xlabel="training point i (key)", ylabel="test point (query)")
        self._animate(self.fit, self.title, self.heatmap.image)

    def _update(self):
        weights = self.weights()
        self.fit.set_ydata(weights @ self.y_train)  # (n_test,): each prediction a weighted average of the y_i
        self.title.set_text(f"h = {self.controls['h'].value:.2f}")
        viz.update_heatmap(self.heatmap, weights)

    def drawn(self):
        """{"prediction": (n_test,) the curve's y, "weights": (n_test, n_train) the heatmap's data}."""
        return {"prediction": np.asarray(self.fit.get_ydata()), "weights": np.array(self.heatmap.image.get_array())}

    def __repr__(self):
        return f"KernelRegressionExplorer(n_train={len(self.x_train)}, bandwidth={self.controls['h'].value:.2f})"


class MultiHeadExplorer(Explorer):
    """Pick a head (and a layer): its attention pattern over `tokens` as a heatmap and as bertviz's head view.

    weights_heads: (heads, n, n) or (layers, heads, n, n), e.g. the weights of attn_course's multi-head
    attention or of a trained model.
    """

    def __init__(self, weights_heads, tokens):
        w = as_float_array(weights_heads, "weights_heads", min_ndim=3)
        self.tokens = [str(t) for t in tokens]
        n = len(self.tokens)
        if w.ndim not in (3, 4) or w.shape[-2:] != (n, n):
            raise ValueError(f"weights_heads must have shape (heads, {n}, {n}) or (layers, heads, {n}, {n}) "
                             f"for {n} tokens, got {w.shape}")
        self.weights_heads = w if w.ndim == 4 else w[None]  # (layers, heads, n, n)
        n_layers, n_heads = self.weights_heads.shape[:2]
        controls = {"head": widgets.IntSlider(value=0, min=0, max=n_heads - 1, description="head")}
        if n_layers > 1:
            controls["layer"] = widgets.IntSlider(value=0, min=0, max=n_layers - 1, description="layer")
        size = 1.4 + 0.4 * n
        super().__init__(controls, figsize=(2 * size + 1.6, size))

    def pattern(self):
        """(n, n) the weights of the chosen head."""
        layer = self.controls["layer"].value if "layer" in self.controls else 0
        return self.weights_heads[layer, self.controls["head"].value]

    def _draw(self):
        ax_h, ax_l = self.figure.subplots(1, 2, gridspec_kw={"width_ratios": [1.3, 1]})
        n = len(self.tokens)
        # No numbers: the head view next to it already shows each weight, and they cost ~1 ms each per event.
        self.heatmap = viz.heatmap(self.weights_heads[0, 0], x_labels=self.tokens, y_labels=self.tokens,
                                   ax=ax_h, annotate=False)
        self.lines = viz.head_view(np.zeros((n, n)), self.tokens, ax=ax_l)
        self.title = ax_h.set_title("layer 0, head 0")
        self._animate(self.heatmap.image, self.heatmap.texts, self.lines, self.title)

    def _update(self):
        weights = self.pattern()
        viz.update_heatmap(self.heatmap, weights)
        viz.update_head_view(self.lines, weights)
        layer = self.controls["layer"].value if "layer" in self.controls else 0
        self.title.set_text(f"layer {layer}, head {self.controls['head'].value}")

    def drawn(self):
        """{"weights": (n, n) the heatmap's data, "line_alpha": (n * n,) the head view's opacities}."""
        return {"weights": np.array(self.heatmap.image.get_array()),
                "line_alpha": self.lines.get_colors()[:, 3]}

    def __repr__(self):
        layers, heads = self.weights_heads.shape[:2]
        return f"MultiHeadExplorer(layers={layers}, heads={heads}, tokens={len(self.tokens)})"


class ExampleExplorer(Explorer):
    """A slider that picks a held-out example of a Result and redraws its picture (draw_example)."""

    def __init__(self, result, start=0):
        if not isinstance(result, Result):
            raise TypeError(f"result must be a Result from evaluation.evaluate, got {type(result).__name__}")
        n = len(result.truth)
        if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start < n:
            raise ValueError(f"start must be an example index in [0, {n}), got {start!r}")
        self.result = result
        controls = {"example": widgets.IntSlider(value=start, min=0, max=n - 1, description="example")}
        super().__init__(controls, figsize=viz.FIGSIZES[result.name])

    def _draw(self):
        pass  # everything is drawn in _update: a new example changes the tick labels too

    def _update(self):
        viz.draw_example(self.figure, self.result, self.controls["example"].value)
        self.figure.tight_layout()
        self._background = None  # redraw it all

    def drawn(self):
        """What draw_example drew, read back from the figure: the arrays its images show, the tick labels and
        titles, and per application: translation "alignment" (the outlined cells), sentiment "heights",
        "values" (the bars' labels) and "carriers" (the red bars), speech "boxes" ((first frame, frames) per key)."""
        axes, name = self.figure.axes, self.result.name
        ticks = lambda ticklabels: [t.get_text() for t in ticklabels]  # noqa: E731
        if name == "translation":
            ax = axes[0]
            weights = np.array(ax.images[0].get_array())
            outlined = np.zeros(weights.shape, dtype=bool)
            j, i = np.rint(ax.collections[0].get_offsets()).astype(int).T
            outlined[i, j] = True
            return {"weights": weights, "alignment": outlined, "x_labels": ticks(ax.get_xticklabels()),
                    "y_labels": ticks(ax.get_yticklabels()), "title": ax.get_title()}
        if name == "sentiment":
            ax = axes[0]
            bars = list(ax.patches)
            return {"heights": [b.get_height() for b in bars], "values": [t.get_text() for t in ax.texts],
                    "carriers": [b.get_facecolor() == mpl_colors.to_rgba(viz.ACCENT) for b in bars],
                    "x_labels": ticks(ax.get_xticklabels()), "title": ax.get_title()}
        if name == "vit":
            return {"image": np.array(axes[0].images[0].get_array()), "raw": np.array(axes[1].images[1].get_array()),
                    "rollout": np.array(axes[2].images[1].get_array()), "title": axes[0].get_title()}
        ax_spec, ax_align = axes[:2]
        boxes = [(round(b.get_x() + 0.5), round(b.get_width())) for b in ax_align.patches]
        return {"spectrogram": np.array(ax_spec.images[0].get_array()), "weights": np.array(ax_align.images[0].get_array()),
                "boxes": boxes, "y_labels": ticks(ax_align.get_yticklabels()), "title": ax_spec.get_title()}

    def __repr__(self):
        return f"ExampleExplorer({self.result.name}, example={self.controls['example'].value})"


class RotaryExplorer(Explorer):
    """Rotary position embeddings (RoPE): move the query's position m and the key's position n.

    q, k: (d,) with d even. RoPE turns each pair of coordinates (2i, 2i+1) of q by m θ_i and of k by n θ_i,
    θ_i = base^(-2i/d) (attn_course.rotary_embedding). Left: one pair, q and k as given (faint) and
    turned (solid). Right: the score R_m q · R_n k against the offset n - m, and a dot at the sliders'
    (m, n), computed from the two rotated vectors: move m and n together and the dot stays put.
    """

    def __init__(self, q, k, m=0, n=3, pair=0, base=10000, max_position=32):
        self.q, self.k = as_float_array(q, "q"), as_float_array(k, "k")
        if self.q.ndim != 1 or self.q.shape != self.k.shape or self.q.size % 2:
            raise ValueError(f"q and k must be 1-D with the same even length d (coordinates turn in pairs), "
                             f"got shapes {self.q.shape} and {self.k.shape}")
        self.base = positive(base, "base")
        self.max_position = positive_int(max_position, "max_position")
        n_pairs = self.q.size // 2
        for name, value, hi in (("m", m, self.max_position), ("n", n, self.max_position), ("pair", pair, n_pairs - 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= hi:
                raise ValueError(f"{name} must be an int between 0 and {hi}, got {value!r}")
        controls = {"m": widgets.IntSlider(value=m, min=0, max=self.max_position, description="query at m"),
                    "n": widgets.IntSlider(value=n, min=0, max=self.max_position, description="key at n"),
                    "pair": widgets.IntSlider(value=pair, min=0, max=n_pairs - 1, description="pair i")}
        super().__init__(controls, figsize=(7.2, 3.0))

    def _rotated(self, x, position):
        return rotary_embedding(x[None, :], [position], base=self.base)[0]           # (d,)

    def score(self, m, n):
        """R_m q · R_n k: the score of the query at position m against the key at position n."""
        return float(self._rotated(self.q, m) @ self._rotated(self.k, n))

    def _draw(self):
        ax_p, ax_s = self.figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.5]})
        arrows = dict(angles="xy", scale_units="xy", scale=1)
        lim = 1.15  # each pair is drawn scaled so that the longer of its q and k has length 1
        self.q_before = ax_p.quiver([0], [0], [0], [0], color=viz.ACCENT, alpha=0.25, width=0.02, **arrows)
        self.k_before = ax_p.quiver([0], [0], [0], [0], color=viz.INPUT, alpha=0.25, width=0.02, **arrows)
        self.q_arrow = ax_p.quiver([0], [0], [0], [0], color=viz.ACCENT, width=0.025, label="q turned by mθ_i", **arrows)
        self.k_arrow = ax_p.quiver([0], [0], [0], [0], color=viz.INPUT, width=0.025, label="k turned by nθ_i", **arrows)
        ax_p.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xlabel="coordinate 2i", ylabel="coordinate 2i+1")
        ax_p.legend(loc="lower left", fontsize=7)
        self.pair_title = ax_p.set_title("pair i = 0, θ_i = 1.000")

        offsets = np.arange(-self.max_position, self.max_position + 1)
        curve = [self.score(0, int(delta)) if delta >= 0 else self.score(int(-delta), 0) for delta in offsets]
        ax_s.plot(offsets, curve, color="0.35", linewidth=1.2)
        ax_s.axhline(0, color="0.8", linewidth=0.8)
        self.dot, = ax_s.plot([0], [0], "o", color=viz.ACCENT, markersize=8)
        ax_s.set(xlabel="offset n − m", ylabel="score  R_m q · R_n k")
        self.title = ax_s.set_title("m = 00, n = 00: offset +00, score +0.00")
        self._animate(self.q_before, self.k_before, self.q_arrow, self.k_arrow, self.pair_title, self.dot, self.title)

    def _update(self):
        m, n, i = (self.controls[name].value for name in ("m", "n", "pair"))
        pair = slice(2 * i, 2 * i + 2)
        unit = max(np.hypot(*self.q[pair]), np.hypot(*self.k[pair]), 1e-12)  # the pair's scale on the picture
        self.q_before.set_UVC(*self.q[pair, None] / unit)
        self.k_before.set_UVC(*self.k[pair, None] / unit)
        self.q_arrow.set_UVC(*self._rotated(self.q, m)[pair, None] / unit)
        self.k_arrow.set_UVC(*self._rotated(self.k, n)[pair, None] / unit)
        self.pair_title.set_text(f"pair i = {i}, θ_i = {self.base ** (-2 * i / self.q.size):.3f} (scaled)")
        score = self.score(m, n)
        self.dot.set_data([n - m], [score])
        self.title.set_text(f"m = {m}, n = {n}: offset {n - m:+d}, score {score:+.2f}")

    def drawn(self):
        """{"q": (2,), "k": (2,) the turned arrows' tips (the pair scaled so that the longer has length 1),
        "offset": the dot's x, "score": its y}."""
        x, y = self.dot.get_data()
        return {"q": viz.arrow_tips(self.q_arrow)[0], "k": viz.arrow_tips(self.k_arrow)[0],
                "offset": float(x[0]), "score": float(y[0])}

    def __repr__(self):
        c = self.controls
        return f"RotaryExplorer(d={self.q.size}, m={c['m'].value}, n={c['n'].value}, pair={c['pair'].value})"
