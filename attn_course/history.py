"""Where attention comes from: the events of chapter 1, as data and as a timeline.

Every event names its work, the year it first appeared, where it was published and its key in the
course's bibliography (book/references.bib), so the picture can be checked against the sources.
The source article's history (its §1.1) is corrected in chapter 1 and in the errata.

    EVENTS                   the events, oldest first
    timeline(events)         a figure: one stem per event, coloured by field, on a broken time axis
"""
from collections import namedtuple

import matplotlib.pyplot as plt
import numpy as np

from . import viz

Event = namedtuple("Event", "year field who what venue key")
# year: when the work first appeared (a preprint counts); venue: where it was published, with that year

EVENTS = (
    Event(1953, "psychology", "Cherry", "the cocktail party: following one voice among two",
          "J. Acoust. Soc. Am. 25(5), 1953", "cherry1953some"),
    Event(1956, "psychology", "Miller", "limits of absolute judgement and immediate memory",
          "Psychological Review 63(2), 1956", "miller1956magical"),
    Event(1958, "psychology", "Broadbent", "filter theory: one channel selected",
          "Perception and Communication, Pergamon, 1958", "broadbent1958perception"),
    Event(1960, "psychology", "Treisman", "meaning gets through the rejected ear",
          "Q. J. Exp. Psychol. 12(4), 1960", "treisman1960contextual"),
    Event(1964, "psychology", "Treisman", "attenuation: weaken, do not block",
          "British Medical Bulletin 20(1), 1964", "treisman1964selective"),
    Event(1964, "statistics", "Nadaraya; Watson", "kernel regression: average by similarity",
          "Theory Probab. Appl. 9(1); Sankhyā A 26(4), 1964", "nadaraya1964estimating watson1964smooth"),
    Event(1967, "psychology", "Neisser", "Cognitive Psychology: preattentive vs focal",
          "Cognitive Psychology, Appleton-Century-Crofts, 1967", "neisser1967cognitive"),
    Event(1997, "neural networks", "Hochreiter & Schmidhuber", "LSTM: gated memory (not attention)",
          "Neural Computation 9(8), 1997", "hochreiter1997long"),
    Event(2013, "neural networks", "Graves", "a soft window over the text to write",
          "arXiv:1308.0850, 2013", "graves2013generating"),
    Event(2014, "neural networks", "Bahdanau, Cho & Bengio", "learned alignment for translation",
          "ICLR 2015 (arXiv:1409.0473, 2014)", "bahdanau2015neural"),
    Event(2015, "neural networks", "Xu et al.", "attention over image regions",
          "ICML 2015", "xu2015show"),
    Event(2015, "neural networks", "Luong, Pham & Manning", "global/local attention, multiplicative scores",
          "EMNLP 2015", "luong2015effective"),
    Event(2017, "neural networks", "Vaswani et al.", "the Transformer: attention only",
          "NIPS 2017", "vaswani2017attention"),
    Event(2020, "neural networks", "Dosovitskiy et al.", "ViT: attention over image patches",
          "ICLR 2021 (arXiv:2010.11929, 2020)", "dosovitskiy2021image"),
)

FIELDS = {"psychology": viz.INPUT, "statistics": viz.BAR, "neural networks": viz.ACCENT}  # field -> colour


@viz._styled
def timeline(events=EVENTS, spans=((1950, 1970), (1993, 2022)), figsize=(10, 4.6)):
    """A new figure: one row per event (oldest at the top), labelled "who (year): what", with a dot at its
    year coloured by its field; returns the figure.

    events: a sequence of Event. spans: the (first, last) years of each panel. The time axis is broken
    between panels, so that decades with no event take no room; every event must fall in a span.
    One row per event, rather than stems on one line, so that no two labels can overlap.
    """
    events = sorted(events, key=lambda e: e.year)
    for e in events:
        if e.field not in FIELDS:
            raise ValueError(f"unknown field {e.field!r} of {e.who} ({e.year}); expected one of {list(FIELDS)}")
        if not any(lo <= e.year <= hi for lo, hi in spans):
            raise ValueError(f"{e.who} ({e.year}) falls in no span of {list(spans)}; widen the spans")
    rows = np.arange(len(events))
    fig, axes = plt.subplots(1, len(spans), figsize=figsize, sharey=True,
                             gridspec_kw={"width_ratios": [hi - lo + 2 for lo, hi in spans], "wspace": 0.05})
    axes = np.atleast_1d(axes)
    for ax, (lo, hi) in zip(axes, spans):
        for row in rows:  # a faint line per event, so the eye can follow it from its label to its dot
            ax.axhline(row, color="0.9", linewidth=0.8, zorder=0)
        for row, e in zip(rows, events):
            if lo <= e.year <= hi:
                ax.plot(e.year, row, "o", color=FIELDS[e.field], markersize=7, zorder=3)
        ax.set_xlim(lo - 1, hi + 1)
        ax.xaxis.set_major_locator(plt.MultipleLocator(5))
        ax.tick_params(axis="y", length=0)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in axes[1:]:
        ax.spines["left"].set_visible(False)
    for left, right in zip(axes[:-1], axes[1:]):  # mark the break in the time axis with two slashes
        for ax, x in ((left, 1), (right, 0)):
            ax.plot([x - 0.01, x + 0.01], [-0.02, 0.02], transform=ax.transAxes, color="0.2", linewidth=1, clip_on=False)
        left.spines["right"].set_visible(False)
    axes[0].set_yticks(rows, [f"{e.who} ({e.year}): {e.what}" for e in events])
    axes[0].set_ylim(len(events) - 0.5, -0.5)  # oldest at the top
    breaks = ", ".join(f"{a[1]} and {b[0]}" for a, b in zip(spans[:-1], spans[1:]))
    fig.supxlabel("year the work first appeared" + (f" (the axis is broken between {breaks})" if breaks else ""),
                  fontsize=9)
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=c, label=f) for f, c in FIELDS.items()]
    axes[-1].legend(handles=handles, loc="upper left", title="field", frameon=True, framealpha=1, edgecolor="none")
    return fig
