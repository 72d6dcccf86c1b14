"""The explorers: every control, moved from Python, redraws the same figure with what the package computes.

Each test reads the picture back from the artists (`drawn()`), never from the explorer's own arithmetic.
"""
import numpy as np
import pytest

import attn_course as ac
from attn_course import widgets

KEYS = [[1.0, 0.2], [-0.3, 1.0], [-0.8, -0.6], [0.6, -0.9]]
VALUES = [[1.5, 0.5], [0.0, 1.6], [-1.4, -0.2], [0.4, -1.3]]


def move(explorer, name, value):
    """Set one control; return whether the PNG changed and check the figure was redrawn in place."""
    figure, before = explorer.figure, bytes(explorer.image.value)
    explorer.controls[name].value = value
    assert explorer.figure is figure
    after = bytes(explorer.image.value)  # the Image widget keeps a memoryview
    assert after.startswith(b"\x89PNG")
    return after != before


# --- SoftmaxExplorer -------------------------------------------------------------------------------

def test_softmax_explorer_draws_softmax_of_the_sliders():
    ex = widgets.SoftmaxExplorer([2.0, 1.0, 0.1, -1.0], labels=["cat", "mat", "sat", "on"])
    np.testing.assert_allclose(ex.drawn()["probs"], ac.softmax(np.array([2.0, 1.0, 0.1, -1.0])))
    assert move(ex, "sat", 3.0)
    np.testing.assert_allclose(ex.drawn()["probs"], ac.softmax(np.array([2.0, 1.0, 3.0, -1.0])))
    assert move(ex, "T", 4.0)
    np.testing.assert_allclose(ex.drawn()["probs"], ac.softmax(np.array([2.0, 1.0, 3.0, -1.0]), temperature=4.0))
    assert ex.bars.texts[2].get_text() == f"{ac.softmax(np.array([2.0, 1.0, 3.0, -1.0]) / 4.0)[2]:.2f}"


def test_softmax_explorer_repr_is_short_and_deterministic():
    ex = widgets.SoftmaxExplorer([2.0, 1.0, 0.1], temperature=0.5)
    assert repr(ex) == "SoftmaxExplorer(logits=[2.0, 1.0, 0.1], temperature=0.50)"
    assert set(ex.controls) == {"z1", "z2", "z3", "T"}


def test_softmax_explorer_same_input_same_png():
    a, b = widgets.SoftmaxExplorer([0.5, -0.5]), widgets.SoftmaxExplorer([0.5, -0.5])
    assert bytes(a.image.value) == bytes(b.image.value)
    a.controls["z1"].value = 1.0
    a.controls["z1"].value = 0.5
    assert bytes(a.image.value) == bytes(b.image.value)  # the cached background leaves no trace of earlier states


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(logits=[1.0, 2.0], labels=["a"]), ValueError, "labels must have one label per z \\(2\\), got 1"),
    (dict(logits=[]), ValueError, "logits must be a non-empty 1-D"),
    (dict(logits=[[1.0, 2.0]]), ValueError, "logits must be a non-empty 1-D.*shape \\(1, 2\\)"),
    (dict(logits=[1.0, float("nan")]), ValueError, "logits contains NaN"),
    (dict(logits=[1.0, 2.0], temperature=0), ValueError, "temperature must be a positive finite number, got 0"),
    (dict(logits=[1.0, 2.0], temperature="hot"), TypeError, "temperature must be a positive number, got 'hot'"),
    (dict(logits=np.array([1, 2])), TypeError, "logits must be a floating-point array"),
])
def test_softmax_explorer_refuses_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        widgets.SoftmaxExplorer(**kwargs)


# --- WeightedSumExplorer ---------------------------------------------------------------------------

def test_weighted_sum_explorer_output_follows_the_query():
    ex = widgets.WeightedSumExplorer(KEYS, VALUES, query=[0.0, 1.0])
    for name, value in [("angle", -135.0), ("length", 2.0), ("angle", 30.0)]:
        assert move(ex, name, value)
        angle, length = np.radians(ex.controls["angle"].value), ex.controls["length"].value
        q = length * np.array([np.cos(angle), np.sin(angle)])
        out, w = ac.scaled_dot_product_attention(q[None], np.array(KEYS), np.array(VALUES))
        drawn = ex.drawn()
        np.testing.assert_allclose(drawn["query"], q, atol=1e-12)
        np.testing.assert_allclose(drawn["weights"], w[0])
        np.testing.assert_allclose(drawn["output"], out[0])
    # the dashed path ends where the output arrow does
    np.testing.assert_allclose(np.column_stack(ex.sum.path.get_data())[-1], ex.drawn()["output"])


def test_weighted_sum_explorer_starts_at_the_given_query():
    ex = widgets.WeightedSumExplorer(KEYS, VALUES, query=[0.0, 1.5], labels=list("abcd"))
    assert (ex.controls["angle"].value, ex.controls["length"].value) == (90.0, 1.5)
    assert repr(ex) == "WeightedSumExplorer(n=4, angle=90, length=1.50)"
    assert [t.get_text().split()[0] for t in ex.sum.texts] == list("abcd")


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(keys=[[1.0, 0.0, 0.0]], values=[[1.0, 0.0]]), ValueError, "keys must have shape \\(n, 2\\).*\\(1, 3\\)"),
    (dict(keys=[1.0, 0.0], values=[[1.0, 0.0]]), ValueError, "keys must have at least 2 dimension"),
    (dict(keys=KEYS, values=VALUES[:3]), ValueError, "keys has 4 rows .* values has 3"),
    (dict(keys=KEYS, values=VALUES, query=[1.0, 0.0, 0.0]), ValueError, "query must have shape \\(2,\\), got \\(3,\\)"),
    (dict(keys=KEYS, values=VALUES, labels=["a"]), ValueError, "labels must have one label per k \\(4\\), got 1"),
])
def test_weighted_sum_explorer_refuses_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        widgets.WeightedSumExplorer(**kwargs)
