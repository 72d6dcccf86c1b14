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
    (dict(logits=[1.0, 2.0], labels=["a"]), ValueError, "labels must have one label per logit \\(2\\), got 1"),
    (dict(logits=[1.0, 2.0], labels=["a", "a"]), ValueError, "labels must be distinct, they name the sliders"),
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
    (dict(keys=KEYS, values=VALUES, labels=["a"]), ValueError, "labels must have one label per key \\(4\\), got 1"),
])
def test_weighted_sum_explorer_refuses_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        widgets.WeightedSumExplorer(**kwargs)


# --- ScalingExplorer -------------------------------------------------------------------------------

def test_scaling_explorer_histograms_and_softmax_follow_d_k():
    ex = widgets.ScalingExplorer(d_k=4, seed=1)
    for d in [512, 1, 64]:
        assert move(ex, "d_k", d)
        pairs = (ex.q_pairs[:, :d] * ex.k_pairs[:, :d]).sum(axis=1)
        row = ex.k_row[:, :d] @ ex.q_row[:d]
        drawn = ex.drawn()
        np.testing.assert_allclose(drawn["raw_hist"], np.histogram(pairs, ex.edges, density=True)[0])
        np.testing.assert_allclose(drawn["scaled_hist"], np.histogram(pairs / np.sqrt(d), ex.edges, density=True)[0])
        np.testing.assert_allclose(drawn["softmax_raw"], ac.softmax(row))
        np.testing.assert_allclose(drawn["softmax_scaled"], ac.softmax(row / np.sqrt(d)))
    assert repr(ex) == "ScalingExplorer(d_k=64, n_keys=8)"


def test_scaling_explorer_shows_saturation_without_scaling():
    ex = widgets.ScalingExplorer(d_k=512, seed=0)
    drawn = ex.drawn()
    assert drawn["softmax_raw"].max() > 0.99 > drawn["softmax_scaled"].max()  # the point of chapter 4


@pytest.mark.parametrize("kwargs, match", [
    (dict(d_k=3), r"d_k must be one of \(1, 2, 4.*got 3"),
    (dict(n_keys=1), r"n_keys must be between 2 and 32, got 1"),
])
def test_scaling_explorer_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        widgets.ScalingExplorer(**kwargs)


# --- MaskExplorer ----------------------------------------------------------------------------------

SENTENCE = ["the", "cat", "sat", "on", "the", "mat"]


def test_mask_explorer_weights_follow_the_toggles():
    ex = widgets.MaskExplorer(SENTENCE, seed=2)
    assert ex.controls["key 4"].description == "the"  # a repeated word gets its own toggle
    keep = np.ones(6, dtype=bool)
    for name, value in [("key 1", False), ("causal", True), ("key 0", False), ("causal", False)]:
        assert move(ex, name, value)
        if name.startswith("key"):
            keep[int(name.split()[1])] = value
        _, expected = ac.scaled_dot_product_attention(ex.x, ex.x, ex.x, mask=keep[None, :],
                                                      causal=ex.controls["causal"].value)
        np.testing.assert_allclose(ex.drawn()["weights"], expected)
        assert not ex.drawn()["weights"][:, ~keep].any()
    assert repr(ex) == "MaskExplorer(tokens=6, off=['the', 'cat'], causal=False)"


def test_mask_explorer_fully_masked_row_is_zero_not_nan():
    ex = widgets.MaskExplorer(["a", "b", "c"], causal=True)
    move(ex, "key 0", False)
    weights = ex.drawn()["weights"]
    np.testing.assert_array_equal(weights[0], 0.0)  # "a" may only look at itself, which is switched off
    assert ex.heatmap.texts[0][0].get_text() == ""


@pytest.mark.parametrize("kwargs, match", [
    (dict(tokens=["a"]), r"tokens must hold between 2 and 12 tokens, got 1"),
    (dict(tokens=["a", "b"], d_k=0), r"d_k must be a positive integer, got 0"),
])
def test_mask_explorer_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        widgets.MaskExplorer(**kwargs)


# --- KernelRegressionExplorer ----------------------------------------------------------------------

def test_kernel_regression_explorer_prediction_is_the_weighted_average():
    ex = widgets.KernelRegressionExplorer(n_train=40, seed=3)
    for h in [0.05, 3.0, 0.3]:
        assert move(ex, "h", h)
        h = ex.controls["h"].value  # the log slider rounds to its step
        weights = ac.softmax(-(ex.x_test[:, None] - ex.x_train[None, :]) ** 2 / (2 * h ** 2))
        drawn = ex.drawn()
        np.testing.assert_allclose(drawn["weights"], weights)
        np.testing.assert_allclose(drawn["prediction"], weights @ ex.y_train)
    # small h follows the noise, large h flattens: the training error grows with h
    errors = []
    for h in [0.05, 3.0]:
        ex.controls["h"].value = h
        errors.append(np.mean((ex.drawn()["prediction"] - ex.truth(ex.x_test)) ** 2))
    assert errors[1] > errors[0]


def test_kernel_regression_explorer_is_deterministic_under_its_seed():
    a, b = widgets.KernelRegressionExplorer(seed=5), widgets.KernelRegressionExplorer(seed=5)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert bytes(a.image.value) == bytes(b.image.value)
    assert not np.array_equal(a.y_train, widgets.KernelRegressionExplorer(seed=6).y_train)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_train=1), ValueError, r"n_train must be between 2 and 200, got 1"),
    (dict(n_train=10.0), TypeError, r"n_train must be a positive integer, got 10.0"),
    (dict(bandwidth=-1.0), ValueError, r"bandwidth must be a positive finite number, got -1.0"),
])
def test_kernel_regression_explorer_refuses_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        widgets.KernelRegressionExplorer(**kwargs)


# --- MultiHeadExplorer -----------------------------------------------------------------------------

def test_multi_head_explorer_shows_the_chosen_layer_and_head():
    w = ac.softmax(np.random.default_rng(4).standard_normal((2, 3, 6, 6)))  # (layers, heads, n, n)
    ex = widgets.MultiHeadExplorer(w, SENTENCE)
    for name, value in [("head", 2), ("layer", 1), ("head", 0)]:
        assert move(ex, name, value)
        expected = w[ex.controls["layer"].value, ex.controls["head"].value]
        np.testing.assert_array_equal(ex.drawn()["weights"], expected)
        np.testing.assert_allclose(ex.drawn()["line_alpha"], expected.ravel() / expected.max())
    assert repr(ex) == "MultiHeadExplorer(layers=2, heads=3, tokens=6)"


def test_multi_head_explorer_without_layers_has_no_layer_slider():
    w = ac.softmax(np.random.default_rng(4).standard_normal((4, 3, 3)))
    ex = widgets.MultiHeadExplorer(w, ["a", "b", "c"])
    assert set(ex.controls) == {"head"} and ex.controls["head"].max == 3


@pytest.mark.parametrize("weights, match", [
    (np.ones((3, 3)) / 3, r"weights_heads must have at least 3 dimension"),
    (np.ones((2, 4, 4)) / 4, r"weights_heads must have shape \(heads, 3, 3\) or \(layers, heads, 3, 3\) for 3 tokens, got \(2, 4, 4\)"),
])
def test_multi_head_explorer_refuses_bad_arguments(weights, match):
    with pytest.raises(ValueError, match=match):
        widgets.MultiHeadExplorer(weights, ["a", "b", "c"])


# --- RotaryExplorer --------------------------------------------------------------------------------

def test_rotary_explorer_score_depends_on_the_offset_only():
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((2, 8))
    ex = widgets.RotaryExplorer(q, k, m=2, n=5)
    first = ex.drawn()
    assert first["offset"] == 3 and first["score"] == pytest.approx(ex.score(2, 5))
    ex.controls["m"].value, ex.controls["n"].value = 12, 15      # both moved by 10: the dot stays
    assert ex.drawn()["offset"] == 3 and ex.drawn()["score"] == pytest.approx(first["score"], abs=1e-12)
    assert not np.allclose(ex.drawn()["q"], first["q"])           # though the arrows turned
    ex.controls["n"].value = 16
    assert ex.drawn()["score"] != pytest.approx(first["score"], abs=1e-3)
    assert repr(ex) == "RotaryExplorer(d=8, m=12, n=16, pair=0)"


def test_rotary_explorer_draws_the_chosen_pair_turned():
    q, k = np.arange(1.0, 7.0), np.ones(6)
    ex = widgets.RotaryExplorer(q, k, m=3, n=0, pair=1, base=100)
    unit = np.hypot(*q[2:4])                                        # the longer of the pair's q and k
    expected = ac.rotary_embedding(q[None], [3], base=100)[0, 2:4] / unit
    np.testing.assert_allclose(ex.drawn()["q"], expected)
    np.testing.assert_allclose(ex.drawn()["k"], k[2:4] / unit)     # position 0: not turned


@pytest.mark.parametrize("kwargs, match", [
    (dict(q=np.ones(5), k=np.ones(5)), "same even length"),
    (dict(q=np.ones(4), k=np.ones(6)), "same even length"),
    (dict(q=np.ones(4), k=np.ones(4), m=40), "m must be an int between 0 and 32"),
    (dict(q=np.ones(4), k=np.ones(4), pair=2), "pair must be an int between 0 and 1"),
    (dict(q=np.ones(4), k=np.ones(4), base=0), "base"),
])
def test_rotary_explorer_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        widgets.RotaryExplorer(**kwargs)


# --- all explorers ---------------------------------------------------------------------------------

def test_explorers_are_vboxes_ending_in_their_image_and_make_no_pyplot_figure():
    import ipywidgets
    import matplotlib.pyplot as plt
    ex = widgets.MaskExplorer(["a", "b"])
    assert isinstance(ex, ipywidgets.VBox) and ex.children[-1] is ex.image
    assert ex._repr_mimebundle_()["text/plain"] == repr(ex)  # what strict nbval compares
    assert plt.get_fignums() == []  # a pyplot figure would be shown inline, below the explorer


@pytest.mark.parametrize("make, name, value", [
    (lambda: widgets.SoftmaxExplorer([2.0, 1.0, 0.1]), "z2", 4.0),
    (lambda: widgets.WeightedSumExplorer(KEYS, VALUES), "angle", 120.0),
    (lambda: widgets.ScalingExplorer(), "d_k", 256),
    (lambda: widgets.MaskExplorer(SENTENCE), "causal", True),
    (lambda: widgets.KernelRegressionExplorer(), "h", 0.1),
    (lambda: widgets.MultiHeadExplorer(ac.softmax(np.ones((2, 3, 3))), ["a", "b", "c"]), "head", 1),
    (lambda: widgets.RotaryExplorer(np.ones(8), np.arange(8.0)), "n", 9),
])
def test_the_png_is_the_whole_figure_redrawn(make, name, value):
    """Only the moving artists are redrawn per event (over cached pixels, texts from cached stamps);
    the PNG must still show what a full redraw of the figure shows."""
    import io
    import PIL.Image
    ex = make()
    ex.controls[name].value = value
    png = np.asarray(PIL.Image.open(io.BytesIO(bytes(ex.image.value))).convert("RGBA"))
    for artist in ex._moving:
        artist.set_animated(False)
    ex.figure.canvas.draw()
    full = np.asarray(ex.figure.canvas.buffer_rgba())
    assert png.shape == full.shape
    differ = np.abs(png.astype(int) - full.astype(int)).max(axis=-1) > 8
    # moving artists are drawn last, over the spines they touch: a few pixels may differ, no more
    assert differ.mean() < 0.001, f"{differ.sum()} pixels differ"
