"""The explorers' website form (attn_course.web): a text/html next to the widget, holding a spec that strict
nbval can compare on any machine, and the snapshot for readers without JavaScript."""
import base64
import json
import re

import numpy as np
import pytest

from attn_course import readout, web, widgets

KEYS = [[1.0, 0.2], [-0.3, 1.0], [-0.8, -0.6], [0.6, -0.9]]
VALUES = [[1.5, 0.5], [0.0, 1.6], [-1.4, -0.2], [0.4, -1.3]]
MAKERS = {
    "softmax": lambda: widgets.SoftmaxExplorer([2.0, 1.0, 0.1, -1.0]),
    "weighted_sum": lambda: widgets.WeightedSumExplorer(KEYS, VALUES),
    "scaling": lambda: widgets.ScalingExplorer(d_k=8),
    "mask": lambda: widgets.MaskExplorer(["<s>", "the", "</s>"], causal=True),
    "kernel_regression": lambda: widgets.KernelRegressionExplorer(n_train=20),
    "multi_head": lambda: widgets.MultiHeadExplorer(np.full((2, 3, 4, 4), 0.25) + np.arange(4) * 1e-13, list("abcd")),
    "rotary": lambda: widgets.RotaryExplorer(np.arange(1.0, 9.0), np.linspace(-1, 1, 8), m=2, n=5, pair=1, base=100),
}


def spec_of(html):
    return json.loads(re.search(r'class="av-spec">(.*?)</script>', html, re.S).group(1).replace("<\\/", "</"))


@pytest.mark.parametrize("kind", MAKERS)
def test_bundle_keeps_the_widget_and_adds_html_with_spec_and_snapshot(kind):
    explorer = MAKERS[kind]()
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle  # JupyterLab and Colab keep the ipywidget
    html = bundle["text/html"]
    assert html.startswith(f'<div class="av-explorer" data-kind="{kind}">')
    assert spec_of(html) == web.spec(explorer)
    png = base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', html).group(1))
    assert png == bytes(explorer.image.value)  # the fallback is the picture the widget shows now


@pytest.mark.parametrize("kind", MAKERS)
def test_spec_is_deterministic_and_names_no_widget_model(kind):
    a, b = MAKERS[kind](), MAKERS[kind]()
    assert a.model_id != b.model_id
    text_a, text_b = json.dumps(web.spec(a)), json.dumps(web.spec(b))
    assert text_a == text_b
    assert a.model_id not in text_a and a.image.model_id not in text_a


def test_spec_follows_the_live_object():
    explorer = MAKERS["softmax"]()
    explorer.controls["z2"].value = 3.3
    explorer.controls["T"].value = 0.5
    spec = web.spec(explorer)
    assert spec["logits"][1]["value"] == 3.3 and spec["T"]["value"] == 0.5


def test_a_token_cannot_close_the_script_element():
    html = MAKERS["mask"]()._repr_mimebundle_()["text/html"]
    assert html.count("</script>") == 1
    assert spec_of(html)["tokens"] == ["<s>", "the", "</s>"]


def test_computed_weights_are_rounded_so_every_machine_stores_the_same_spec():
    spec = web.spec(MAKERS["multi_head"]())
    assert spec["weights"][0][0][0] == [0.25, 0.25, 0.25, 0.25]  # 1e-13 differences (roundoff-sized) are gone


def test_kernel_regression_spec_carries_the_seeded_noise_not_the_libm_targets():
    explorer = MAKERS["kernel_regression"]()
    spec = web.spec(explorer)
    np.testing.assert_array_equal(explorer.truth(np.array(spec["x_train"])) + spec["noise"], explorer.y_train)
    assert "y_train" not in spec


def test_rotary_spec_carries_q_k_and_base_not_the_turned_vectors():
    """The page turns q and k itself (cos and sin are libm's, so their last digits are not stored)."""
    spec = web.spec(MAKERS["rotary"]())
    assert spec["q"] == list(np.arange(1.0, 9.0)) and spec["k"] == list(np.linspace(-1, 1, 8)) and spec["base"] == 100
    assert (spec["m"]["value"], spec["n"]["value"], spec["pair"]["value"], spec["pair"]["max"]) == (2, 5, 1, 3)


def test_an_explorer_without_a_website_form_keeps_the_widget_only():
    """An explorer web.spec does not know: no spec, so no text/html, and the site shows the widget's snapshot."""
    import ipywidgets

    class Plain(widgets.Explorer):
        def __init__(self):
            super().__init__({"x": ipywidgets.FloatSlider()}, figsize=(1, 1))

        def _draw(self):
            self.figure.add_subplot()

        def _update(self):
            pass

    explorer = Plain()
    assert web.spec(explorer) is None
    assert "text/html" not in explorer._repr_mimebundle_()


# ---------------------------------------------------------------------------------------------------
# Chapter 6's ExampleExplorer: every held-out example, quantised

APPLICATIONS = ("translation", "sentiment", "vit", "speech")


@pytest.fixture(scope="module")
def results():
    from attn_course import evaluation, training

    return {name: evaluation.evaluate(name, training.load(name)) for name in APPLICATIONS}


def decoded(text):
    return np.frombuffer(base64.b64decode(text), dtype=np.uint8)


def bits(text, shape):
    return np.unpackbits(decoded(text))[:int(np.prod(shape))].reshape(shape).astype(bool)


@pytest.mark.parametrize("name", APPLICATIONS)
def test_example_bundle_holds_the_spec_and_the_snapshot(results, name):
    explorer = widgets.ExampleExplorer(results[name], start=3)
    html = explorer._repr_mimebundle_()["text/html"]
    assert html.startswith('<div class="av-explorer" data-kind="example">')
    spec = spec_of(html)
    assert spec == web.spec(explorer) and spec["name"] == name
    n = len(results[name].truth)
    assert spec["example"] == {"label": "example", "value": 3, "min": 0, "max": n - 1, "step": 1}  # every example
    png = base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', html).group(1))
    assert png == bytes(explorer.image.value)


@pytest.mark.parametrize("name", APPLICATIONS)
def test_example_spec_holds_every_example_at_the_stated_rounding(results, name):
    r = results[name]
    s = web.spec(widgets.ExampleExplorer(r))
    n = len(r.truth)
    half = 0.5 + 1e-9  # half a level, and roundoff
    if name == "translation":
        np.testing.assert_array_equal(decoded(s["source"]).reshape(r.inputs.shape), r.inputs)
        np.testing.assert_array_equal(decoded(s["predicted"]).reshape(r.predictions.shape), r.predictions)
        np.testing.assert_array_equal(decoded(s["right"]), (r.predictions == r.truth).all(axis=1))
        np.testing.assert_array_equal(bits(s["alignment"], r.alignment.shape), r.alignment)
    elif name == "sentiment":
        np.testing.assert_array_equal(decoded(s["words"]).reshape(r.inputs.shape), r.inputs)
        np.testing.assert_array_equal(decoded(s["truth"]), r.truth)
        np.testing.assert_array_equal(decoded(s["predicted"]), r.predictions)
        np.testing.assert_array_equal(bits(s["carriers"], r.alignment.shape), r.alignment)
        hundredths = web.dequantised(decoded(s["weights"]), 0, 1, web.BAR_STEPS).reshape(r.weights.shape)
        # the bars' labels on the site are the kernel's: f"{w:.2f}" of the stored value and of the weight agree
        assert [f"{w:.2f}" for w in hundredths.ravel()] == [f"{w:.2f}" for w in r.weights.ravel()]
        assert np.abs(hundredths - r.weights).max() <= half / web.BAR_STEPS
    elif name == "vit":
        np.testing.assert_array_equal(decoded(s["truth"]), r.truth)
        np.testing.assert_array_equal(decoded(s["predicted"]), r.predictions)
        image = web.dequantised(decoded(s["image"]), 0, 1, s["image_steps"]).reshape(r.inputs.shape)
        np.testing.assert_array_equal(image, r.inputs)  # the digits' 17 grey levels, exactly
        maps = np.array([readout.cls_maps(r, i) for i in range(n)]).reshape(2 * n, -1)   # raw, rollout, raw, ...
        k = decoded(s["maps"]).reshape(maps.shape)
        lo, hi = maps.min(axis=1, keepdims=True), maps.max(axis=1, keepdims=True)
        np.testing.assert_array_equal(k, np.rint(255 * (maps - lo) / (hi - lo)))
        assert (k.min(axis=1) == 0).all() and (k.max(axis=1) == 255).all()  # each map spans its colour scale
        np.testing.assert_array_equal(s["lo"], np.round(lo[:, 0], 4))
        np.testing.assert_array_equal(s["hi"], np.round(hi[:, 0], 4))
        drawn = web.dequantised(k, np.array(s["lo"])[:, None], np.array(s["hi"])[:, None], s["steps"])
        assert np.abs(drawn - maps).max() <= half * (hi - lo).max() / 255 + 5e-5 * 2
    else:
        np.testing.assert_array_equal(decoded(s["truth"]).reshape(r.truth.shape), r.truth)
        np.testing.assert_array_equal(decoded(s["predicted"]).reshape(r.predictions.shape), r.predictions)
        np.testing.assert_array_equal(bits(s["alignment"], r.alignment.shape), r.alignment)
        packed = decoded(s["spectrogram"])
        k = np.stack([packed >> 4, packed & 15], axis=1).ravel()[:r.inputs.size].reshape(n, -1)  # two to a byte
        spectra = r.inputs.transpose(0, 2, 1).reshape(n, -1)                                        # (n, bins * frames)
        lo, hi = spectra.min(axis=1, keepdims=True), spectra.max(axis=1, keepdims=True)
        assert np.abs(k / s["spectrogram_steps"] - (spectra - lo) / (hi - lo)).max() <= half / s["spectrogram_steps"]
    if name in ("translation", "speech"):
        w = web.dequantised(decoded(s["weights"]), 0, 1, web.WEIGHT_STEPS).reshape(r.weights.shape)
        assert np.abs(w - r.weights).max() <= half / web.WEIGHT_STEPS  # less than one of the 256 colours


@pytest.mark.parametrize("name", APPLICATIONS)
def test_example_spec_is_the_same_when_the_weights_differ_by_roundoff(results, name):
    """Another CPU computes the weights with other roundoff (1e-16): the levels, and so the spec, stay the same."""
    r = results[name]
    noise = 1 + 1e-13 * np.random.default_rng(0).standard_normal(r.weights.shape)
    other = r._replace(weights=r.weights * noise)
    assert web.spec(widgets.ExampleExplorer(other)) == web.spec(widgets.ExampleExplorer(r))


def test_levels_say_what_they_expected():
    np.testing.assert_array_equal(web.levels([0.0, 0.5, 1.0], 0, 1, 255), [0, 128, 255])
    np.testing.assert_allclose(web.dequantised([0, 255], 0.25, 0.75, 255), [0.25, 0.75])
    with pytest.raises(ValueError, match="between lo and hi, got 0.0 .. 1.5 for 0 .. 1"):
        web.levels([0.0, 1.5], 0, 1, 255)


@pytest.mark.parametrize("kind", MAKERS)
def test_every_colour_in_a_spec_is_one_css_knows(kind):
    """The page paints with the spec's colours: matplotlib's greys ("0.6") are no CSS colour (the browser
    would fall back to black), so the spec carries "#rrggbb"."""
    spec = web.spec(MAKERS[kind]())
    colours = {key: spec[key] for key in ("input", "accent", "bar") if key in spec}
    colours.update({f"cmap[{i}]": c for i, c in enumerate(spec.get("cmap", []))})
    bad = {key: c for key, c in colours.items() if not re.fullmatch(r"#[0-9a-f]{6}", c)}
    assert not bad, f"not CSS colours: {bad}"
