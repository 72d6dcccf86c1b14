"""The events of attention's history on a timeline (chapter 1); the events are attn_course.history's."""
import matplotlib.pyplot as plt
import numpy as np

from ..history import EVENTS, FIELDS
from . import ACCENT, BAR, INPUT, styled

FIELD_COLOURS = dict(zip(FIELDS, (INPUT, BAR, ACCENT)))  # psychology grey, statistics blue, neural networks red


@styled
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
                ax.plot(e.year, row, "o", color=FIELD_COLOURS[e.field], markersize=7, zorder=3)
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
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=c, label=f) for f, c in FIELD_COLOURS.items()]
    axes[-1].legend(handles=handles, loc="upper left", title="field", frameon=True, framealpha=1, edgecolor="none")
    return fig
