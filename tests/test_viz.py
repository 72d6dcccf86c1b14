"""The pictures: what each function draws (read back from the artists) is the data it was given."""
import matplotlib

matplotlib.use("Agg")  # before pyplot: the tests draw off-screen

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

import attn_course as ac
from attn_course import viz

TOKENS = ["the", "cat", "sat", "on"]
W = ac.softmax(np.random.default_rng(0).standard_normal((4, 4)))  # (4, 4) rows sum to 1


@pytest.fixture
def ax():
    return Figure(figsize=(4, 3)).add_subplot()


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def labelled(ax):
    return ax.get_xlabel() != "" and ax.get_ylabel() != ""


def test_heatmap_draws_the_matrix_with_tokens_and_values(ax):
    drawn = viz.heatmap(W, x_labels=TOKENS, y_labels=TOKENS, ax=ax)
    np.testing.assert_array_equal(drawn.image.get_array(), W)
    assert drawn.image.get_clim() == (0.0, 1.0)  # weights: a fixed scale, comparable across pictures
    assert drawn.image.get_cmap().name == viz.CMAP
    assert [t.get_text() for t in ax.get_xticklabels()] == TOKENS
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("key", "query")
    assert drawn.texts[1][2].get_text() == f"{W[1, 2]:.2f}"
    assert drawn.colorbar.ax.get_ylabel() == "weight"


def test_update_heatmap_moves_data_and_numbers(ax):
    drawn = viz.heatmap(W, ax=ax)
    new = W[::-1].copy()
    new[0, 0] = 0.0  # a masked entry is left blank
    viz.update_heatmap(drawn, new)
    np.testing.assert_array_equal(drawn.image.get_array(), new)
    assert drawn.texts[3][1].get_text() == f"{new[3, 1]:.2f}"
    assert drawn.texts[0][0].get_text() == ""
    with pytest.raises(ValueError, match=r"weights must keep the shape \(4, 4\), got \(3, 4\)"):
        viz.update_heatmap(drawn, W[:3])


def test_heatmap_of_scores_gets_its_own_range_and_no_numbers_when_large(ax):
    scores = np.linspace(-3, 3, 11 * 11).reshape(11, 11)
    drawn = viz.heatmap(scores, ax=ax)
    assert drawn.image.get_clim() == (-3.0, 3.0)
    assert drawn.texts == []  # 121 cells: too many numbers to read
    assert labelled(ax)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(weights=[0.1, 0.9]), ValueError, r"weights must have at least 2 dimension"),
    (dict(weights=np.ones((2, 2, 2))), ValueError, r"weights must be a 2-D matrix \(n_q, n_k\), got shape \(2, 2, 2\)"),
    (dict(weights=np.eye(2, dtype=int)), TypeError, r"weights must be a floating-point array"),
    (dict(weights=np.eye(2), x_labels=["a"]), ValueError, r"x_labels must have one label per row/column \(2\), got 1"),
])
def test_heatmap_refuses_bad_arguments(ax, kwargs, error, match):
    with pytest.raises(error, match=match):
        viz.heatmap(ax=ax, **kwargs)


def test_every_function_uses_the_course_style_whatever_the_rc_settings():
    with matplotlib.rc_context({"xtick.labelsize": 20, "axes.labelsize": 20}):
        ax = viz.softmax_bars(np.array([0.5, 0.5])).bars[0].axes  # on a new figure, made in the style
    assert ax.get_xticklabels()[0].get_fontsize() == viz.STYLE["xtick.labelsize"]
    assert ax.xaxis.label.get_fontsize() == viz.STYLE["axes.labelsize"]
    with matplotlib.rc_context():  # use_style changes the global settings; keep them for the other tests
        viz.use_style()
        assert all(matplotlib.rcParams[key] == value for key, value in viz.STYLE.items())


def test_softmax_bars_and_update(ax):
    p = ac.softmax(np.array([2.0, 1.0, 0.1]))
    drawn = viz.softmax_bars(p, labels=["a", "b", "c"], ax=ax)
    np.testing.assert_allclose([r.get_height() for r in drawn.bars], p)
    assert [t.get_text() for t in drawn.texts] == [f"{x:.2f}" for x in p]
    assert ax.get_ylim() == (0, 1.1) and labelled(ax)
    viz.update_bars(drawn, p[::-1])
    np.testing.assert_allclose([r.get_height() for r in drawn.bars], p[::-1])
    assert drawn.texts[0].get_position()[1] == pytest.approx(p[-1] + 0.02)
    with pytest.raises(ValueError, match=r"probs must be 1-D \(n,\), got shape \(1, 3\)"):
        viz.softmax_bars(p[None], ax=ax)


def test_weighted_sum_output_is_the_weighted_combination(ax):
    values = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0]])
    w = np.array([0.5, 0.3, 0.2])
    drawn = viz.weighted_sum(values, w, labels=["a", "b", "c"], ax=ax)
    np.testing.assert_allclose(viz.arrow_tips(drawn.values), values)
    np.testing.assert_allclose(viz.arrow_tips(drawn.output)[0], w @ values)
    np.testing.assert_allclose(np.column_stack(drawn.path.get_data()),
                               [[0, 0], [0.5, 0], [0.5, 0.6], [0.3, 0.4]])
    assert [t.get_text() for t in drawn.texts] == ["a 0.50", "b 0.30", "c 0.20"]
    viz.update_weighted_sum(drawn, values, np.array([0.0, 0.0, 1.0]))
    np.testing.assert_allclose(viz.arrow_tips(drawn.output)[0], values[2])
    assert labelled(ax)


@pytest.mark.parametrize("values, weights, match", [
    (np.ones((3, 3)), np.ones(3) / 3, r"values must have shape \(n, 2\).*got \(3, 3\)"),
    (np.ones((3, 2)), np.ones(2) / 2, r"weights must have shape \(3,\), one per value, got \(2,\)"),
])
def test_weighted_sum_refuses_bad_shapes(ax, values, weights, match):
    with pytest.raises(ValueError, match=match):
        viz.weighted_sum(values, weights, ax=ax)


def test_alignment_outlines_the_true_alignment(ax):
    truth = np.eye(4, dtype=bool)
    drawn = viz.alignment(W, ["le", "chat", "est", "assis"], TOKENS, ax=ax, true_alignment=truth)
    np.testing.assert_array_equal(drawn.image.get_array(), W)
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), [[0, 0], [1, 1], [2, 2], [3, 3]])
    assert [t.get_text() for t in ax.get_yticklabels()] == TOKENS
    assert labelled(ax)
    with pytest.raises(ValueError, match=r"true_alignment must be a boolean array of shape \(4, 4\)"):
        viz.alignment(W, TOKENS, TOKENS, ax=ax, true_alignment=np.eye(4))


def test_patch_overlay_covers_the_image_patch_by_patch(ax):
    image = (np.arange(32 * 48) % 256).astype(np.uint8).reshape(32, 48)
    weights = ac.softmax(np.arange(24.0)).reshape(4, 6)
    overlay = viz.patch_overlay(image, weights, 8, ax=ax)
    np.testing.assert_array_equal(overlay.get_array(), weights)
    assert overlay.get_extent() == [0, 48, 32, 0]  # each weight spans one 8x8 patch
    assert labelled(ax)
    with pytest.raises(ValueError, match=r"patch_weights must have shape .* = \(4, 6\) for an image of 32x48 pixels, got \(4, 4\)"):
        viz.patch_overlay(image, weights[:, :4], 8, ax=ax)
    with pytest.raises(TypeError, match=r"patch_size must be a positive integer, got 8.0"):
        viz.patch_overlay(image, weights, 8.0, ax=ax)


def test_head_view_line_opacity_is_the_weight(ax):
    lines = viz.head_view(W, TOKENS, ax=ax)
    alpha = lines.get_colors()[:, 3]
    np.testing.assert_allclose(alpha, W.ravel() / W.max())
    segments = lines.get_segments()
    np.testing.assert_array_equal(segments[1 * 4 + 2], [[0, 1], [1, 2]])  # query "cat" -> key "sat"
    assert labelled(ax)
    with pytest.raises(ValueError, match=r"weights must have shape \(len\(tokens\), len\(tokens\)\) = \(3, 3\)"):
        viz.head_view(W, TOKENS[:3], ax=ax)


def test_model_view_is_a_grid_of_layers_by_heads():
    w = ac.softmax(np.random.default_rng(1).standard_normal((2, 3, 4, 4)))
    fig = viz.model_view(w, TOKENS)
    assert len(fig.axes) == 6 + 1  # and one colorbar for all
    np.testing.assert_array_equal(fig.axes[1 * 3 + 2].images[0].get_array(), w[1, 2])
    assert fig.axes[0].get_title() == "head 0" and fig.axes[3].get_ylabel().startswith("layer 1")
    with pytest.raises(ValueError, match=r"weights_layers_heads must have shape \(layers, heads, 3, 3\)"):
        viz.model_view(w, TOKENS[:3])


def test_without_ax_each_function_draws_on_a_new_figure():
    drawn = viz.heatmap(W)
    assert drawn.image.axes.figure is plt.gcf()
