"""The history of chapter 1: every event is cited from the bibliography, and the timeline draws each one."""
import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from attn_course import history, viz  # noqa: E402

BIB = (Path(__file__).resolve().parents[1] / "book" / "references.bib").read_text()
BIB_KEYS = set(re.findall(r"@\w+\{([^,\s]+),", BIB))


def test_events_are_in_order_and_cited_from_the_bibliography():
    years = [e.year for e in history.EVENTS]
    assert years == sorted(years)
    for e in history.EVENTS:
        assert e.field in history.FIELDS
        for key in e.key.split():
            assert key in BIB_KEYS, f"{e.who} ({e.year}) cites {key}, which is not in book/references.bib"


def test_lstm_is_hochreiter_and_schmidhuber_1997():  # the source article (§1.1) says "Stanford, 2014"
    lstm = [e for e in history.EVENTS if "LSTM" in e.what]
    assert [(e.year, e.who) for e in lstm] == [(1997, "Hochreiter & Schmidhuber")]


def test_timeline_draws_one_dot_per_event_at_its_year():
    fig = viz.timeline()
    dots = [(float(line.get_xdata()[0]), float(line.get_ydata()[0])) for ax in fig.axes for line in ax.lines
            if line.get_marker() == "o"]
    assert sorted(dots, key=lambda d: d[1]) == [(float(e.year), float(row)) for row, e in enumerate(history.EVENTS)]
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[0].startswith("Cherry (1953)") and len(labels) == len(history.EVENTS)
    plt.close(fig)


def test_timeline_refuses_events_outside_the_spans_and_unknown_fields():
    with pytest.raises(ValueError, match="falls in no span"):
        viz.timeline(spans=((1950, 1970),))
    odd = history.Event(1990, "astrology", "X", "y", "z", "k")
    with pytest.raises(ValueError, match="unknown field 'astrology'"):
        viz.timeline(events=[odd])
    plt.close("all")
