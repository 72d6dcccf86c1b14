"""The explorers' website form (attn_course.web): a text/html next to the widget, holding a spec that strict
nbval can compare on any machine, and the snapshot for readers without JavaScript."""
import base64
import json
import re

import numpy as np
import pytest

from attn_course import web, widgets

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
    """E.g. chapter 6's ExampleExplorer: no spec, so no text/html, and the site shows the widget's snapshot."""
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
