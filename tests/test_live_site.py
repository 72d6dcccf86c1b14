"""The explorers on the built website are live in the reader's browser and compute what attn_course computes.

Each page's explorers are read back from their JSON spec, the same explorer is built in Python (and its
spec checked equal, so it is the same explorer), then both are moved through a series of control values
(the stored start, off-grid values, extremes: the temperature at its smallest, every key but one masked)
and what the page draws (bar heights, arrow tips, heatmap cells, curve points, read back from the DOM)
is compared with the Python explorer's `drawn()` to 1e-12. A seeded sweep of hundreds of random cases
calls the page's math directly. Chapter 6's example explorers draw from the held-out examples stored in
their spec, quantised (attn_course/web.py): there the page is compared with the Python explorer's picture
passed through the same rounding. The network is cut: only the local server answers.
Run `make site` first (`make test` does).
"""
import functools

import numpy as np
import pytest

from matplotlib import colormaps
from matplotlib.colors import Normalize

from attn_course import viz, web, widgets
from attn_course.attention import scaled_dot_product_attention
from attn_course.positional import rotary_embedding
from attn_course.softmax import softmax
from conftest import SITE
from test_site import server  # noqa: F401  (the fixture: the built site on 127.0.0.1)

pytestmark = pytest.mark.browser

TOL = 1e-12
CHAPTERS = ["01_background", "02_concepts", "03_algorithm", "04_mathematics", "05b_positions", "06_applications",
            "06c_language_model", "07_tools"]


def open_page(browser, server, path, **context_args):  # noqa: F811
    context = browser.new_context(**context_args)
    page = context.new_page()
    problems = []
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(server) else (problems.append(r.request.url), r.abort()))
    page.on("pageerror", lambda err: problems.append(f"uncaught exception: {err}"))
    page.goto(server + path, wait_until="networkidle")
    return context, page, problems


def live(page):
    page.wait_for_function("window.avExplorers && window.avExplorers.ready")
    return page.evaluate("Array.from(document.querySelectorAll('.av-explorer'), e => JSON.parse(e.querySelector('.av-spec').textContent))")


def python_explorer(spec):
    """The Python explorer the spec was made from, built again from the spec's inputs."""
    kind = spec["kind"]
    if kind == "softmax":
        e = widgets.SoftmaxExplorer([c["value"] for c in spec["logits"]], labels=spec["labels"], temperature=spec["T"]["value"])
    elif kind == "weighted_sum":
        a, r = np.radians(spec["angle"]["value"]), spec["length"]["value"]
        e = widgets.WeightedSumExplorer(spec["keys"], spec["values"], query=[r * np.cos(a), r * np.sin(a)], labels=spec["labels"])
    elif kind == "scaling":
        e = widgets.ScalingExplorer(d_k=spec["d_k"], n_keys=len(spec["k_row"]))
    elif kind == "mask":
        e = widgets.MaskExplorer(spec["tokens"], d_k=len(spec["x"][0]), causal=spec["causal"])
        for i, on in enumerate(spec["on"]):
            e.controls[f"key {i}"].value = on
    elif kind == "kernel_regression":
        e = widgets.KernelRegressionExplorer(n_train=len(spec["x_train"]), bandwidth=spec["h"]["value"])
    elif kind == "example":
        e = widgets.ExampleExplorer(held_out(spec["name"]), start=spec["example"]["value"])
    elif kind == "rotary":
        e = widgets.RotaryExplorer(spec["q"], spec["k"], m=spec["m"]["value"], n=spec["n"]["value"],
                                   pair=spec["pair"]["value"], base=spec["base"], max_position=spec["max_position"])
    else:
        e = widgets.MultiHeadExplorer(spec["weights"], spec["tokens"])
        e.controls["head"].value = spec["head"]["value"]
        if spec["layer"]:
            e.controls["layer"].value = spec["layer"]["value"]
    assert web.spec(e) == spec, f"the {kind} explorer built again from its spec is not the page's explorer"
    return e


@functools.cache
def held_out(name):
    """The Result chapter 6 draws: the shipped model of application `name` on its held-out examples."""
    from attn_course import evaluation, training

    return evaluation.evaluate(name, training.load(name))


def settings(spec):
    """A series of {control: value} to set one after the other: grid values, off-grid values and extremes."""
    kind = spec["kind"]
    if kind == "softmax":
        labels, lo, hi = spec["labels"], spec["logits"][0]["min"], spec["logits"][0]["max"]
        t_min, t_max = 10 ** spec["T"]["min"], 10 ** spec["T"]["max"]
        return [{"T": t_min}, {"T": 0.1234567}, {labels[0]: hi, "T": t_min}, {labels[0]: lo, labels[-1]: 0.37},
                {**{label: 1.0 for label in labels}, "T": t_max}, {labels[1]: hi, labels[2]: hi, "T": 1.0}]
    if kind == "weighted_sum":
        return [{"angle": -180}, {"angle": 37.5}, {"length": 0.0}, {"length": spec["length"]["max"], "angle": 180},
                {"angle": 91, "length": 0.333}]
    if kind == "scaling":
        return [{"d_k": d} for d in spec["d_ks"]]
    if kind == "mask":
        n = len(spec["tokens"])
        series = [{f"key {i}": i == keep for i in range(n)} for keep in range(n)]  # every key but one masked
        series += [{"causal": True}, {"causal": False, **{f"key {i}": False for i in range(n)}},  # nothing left
                   {f"key {i}": True for i in range(n)}, {"causal": True}]
        return series
    if kind == "kernel_regression":
        h = spec["h"]
        return [{"h": 10 ** h["min"]}, {"h": 10 ** h["max"]}, {"h": 0.2718}, {"h": 1.0}]
    if kind == "example":
        top, start = spec["example"]["max"], spec["example"]["value"]
        seeded = np.random.default_rng(6).integers(0, top + 1, 4).tolist()
        return [{"example": v} for v in [top, 0, 1, *seeded, top - 1, start]]
    if kind == "rotary":
        top, last = spec["max_position"], spec["pair"]["max"]
        return [{"m": 0, "n": 0}, {"m": top}, {"n": top}, {"m": 0}, {"pair": last}, {"m": 7, "n": 3},
                {"pair": last // 2, "m": top, "n": 1}, {"pair": 0, "m": 13, "n": 13}]
    heads = range(spec["head"]["max"] + 1)
    layers = range(spec["layer"]["max"] + 1) if spec["layer"] else [None]
    return [{"head": h, **({"layer": layer} if layer is not None else {})} for layer in layers for h in heads]


def as_on_the_site(spec, drawn):
    """An ExampleExplorer's drawn() as the site draws it: its maps through web.py's rounding (levels)."""
    if spec["kind"] != "example":
        return drawn
    out = dict(drawn)
    for key in ("weights", "heights"):  # weights in [0, 1]: 8-bit levels; the sentiment bars: hundredths
        if key in drawn:
            out[key] = web.dequantised(web.levels(drawn[key], 0, 1, spec["steps"]), 0, 1, spec["steps"])
    if "image" in drawn:
        out["image"] = web.dequantised(web.levels(drawn["image"], 0, 1, spec["image_steps"]), 0, 1, spec["image_steps"])
        for name in ("raw", "rollout"):  # each map between its min and max; those ends to 4 decimals
            m = np.asarray(drawn[name])
            k = web.levels(m, m.min(), m.max(), spec["steps"])
            out[name] = web.dequantised(k, np.round(m.min(), 4), np.round(m.max(), 4), spec["steps"])
    if "spectrogram" in drawn:  # 4 bits between its own min and max, as a share of that range
        m, steps = np.asarray(drawn["spectrogram"]), spec["spectrogram_steps"]
        out["spectrogram"] = web.dequantised(web.levels(m, m.min(), m.max(), steps), 0, 1, steps)
    if "carriers" in drawn:
        out["carriers"] = [bool(c) for c in drawn["carriers"]]
    if "boxes" in drawn:
        out["boxes"] = [list(b) for b in drawn["boxes"]]
    return out


def compare(page_drawn, python_drawn, what):
    for key, expected in python_drawn.items():
        if isinstance(expected, str) or (isinstance(expected, list) and expected and not isinstance(expected[0], float)):
            assert page_drawn[key] == expected, f"{what}: {key} is {page_drawn[key]!r} in the page, {expected!r} in Python"
            continue
        got = np.asarray(page_drawn[key], dtype=float)
        expected = np.asarray(expected, dtype=float)
        assert got.shape == expected.shape, f"{what}: {key} has shape {got.shape} in the page, {expected.shape} in Python"
        np.testing.assert_allclose(got, expected, rtol=0, atol=TOL, err_msg=f"{what}: {key}")


def compare_colours(page_drawn, python_drawn, what):
    """The heatmap's cells as painted in the page: viz.CMAP at each weight, as matplotlib maps it (N bins)."""
    cmap = colormaps[viz.CMAP]
    if "colours" in page_drawn:
        weights = np.asarray(python_drawn["weights"], dtype=float)
        expected = cmap(weights, bytes=True)[..., :3]  # weights live in [0, 1]: the scale every explorer here uses
        bin_edge = np.abs(weights * cmap.N - np.round(weights * cmap.N)) < 1e-9  # roundoff could tip the bin there
        got = np.asarray(page_drawn["colours"])
        wrong = (got != expected).any(axis=-1) & ~bin_edge
        assert not wrong.any(), f"{what}: {wrong.sum()} cells painted another colour, e.g. at {np.argwhere(wrong)[0]}"
    for name in ("raw", "rollout"):  # the ViT's overlays: matplotlib's own colour scale, the map's min to max
        if f"{name}_colours" in page_drawn:
            m = np.asarray(python_drawn[name])
            expected = cmap(Normalize(m.min(), m.max())(m), bytes=True)[..., :3]
            assert (np.asarray(page_drawn[f"{name}_colours"]) == expected).all(), f"{what}: the {name} map's colours"


def set_page(page, index, values):
    page.evaluate("([i, values]) => { const c = document.querySelectorAll('.av-explorer')[i].av.controls;"
                  " for (const [k, v] of Object.entries(values)) c[k].set(v); }", [index, values])


def page_drawn(page, index):
    return page.evaluate("i => document.querySelectorAll('.av-explorer')[i].av.drawn()", index)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_explorers_draw_what_the_package_computes(browser, server, chapter):  # noqa: F811
    context, page, problems = open_page(browser, server, f"notebooks/{chapter}.html")
    specs = live(page)
    assert specs, f"no live explorer on {chapter}"
    for index, spec in enumerate(specs):
        explorer = python_explorer(spec)
        drawn, expected = page_drawn(page, index), as_on_the_site(spec, explorer.drawn())
        compare(drawn, expected, f"{chapter} {spec['kind']} at its start")
        compare_colours(drawn, expected, f"{chapter} {spec['kind']} at its start")
        for values in settings(spec):
            set_page(page, index, values)
            for name, value in values.items():
                explorer.controls[name].value = value
            drawn, expected = page_drawn(page, index), as_on_the_site(spec, explorer.drawn())
            compare(drawn, expected, f"{chapter} {spec['kind']} {values}")
            compare_colours(drawn, expected, f"{chapter} {spec['kind']} {values}")
    context.close()
    assert not problems, problems


def test_sliders_move_with_the_keyboard_and_show_their_value(browser, server):  # noqa: F811
    context, page, _ = open_page(browser, server, "notebooks/03_algorithm.html")
    specs = live(page)
    index = next(i for i, s in enumerate(specs) if s["kind"] == "softmax")
    spec = specs[index]
    root = page.locator(".av-explorer").nth(index)
    slider = root.locator("input[type=range]").first
    label = root.locator(f"label[for='{slider.get_attribute('id')}']")
    assert label.is_visible() and label.inner_text() == spec["labels"][0]
    slider.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    value = float(slider.input_value())
    assert value == pytest.approx(spec["logits"][0]["value"] + 3 * spec["logits"][0]["step"])
    assert root.locator("output").first.inner_text() == f"{value:.2f}"
    explorer = python_explorer(spec)
    explorer.controls[spec["labels"][0]].value = value
    compare(page_drawn(page, index), explorer.drawn(), "after three ArrowRight presses")
    context.close()


def test_example_sliders_move_with_the_keyboard_over_every_stored_example(browser, server):  # noqa: F811
    """Chapter 6: Home, End and the arrows pick examples; the slider's range is the spec's examples, no more."""
    context, page, problems = open_page(browser, server, "notebooks/06_applications.html")
    specs = live(page)
    assert sorted(s["name"] for s in specs if s["kind"] == "example") == ["sentiment", "speech", "translation", "vit"]
    for index, spec in enumerate(specs):
        root = page.locator(".av-explorer").nth(index)
        slider = root.locator("input[type=range]")
        label = root.locator(f"label[for='{slider.get_attribute('id')}']")
        assert label.is_visible() and label.inner_text() == "example"
        assert int(slider.input_value()) == spec["example"]["value"]  # the notebook's start, e.g. the first wrong one
        assert (slider.get_attribute("min"), slider.get_attribute("max")) == ("0", str(spec["example"]["max"]))
        explorer = python_explorer(spec)
        slider.focus()
        for key, expected in [("End", spec["example"]["max"]), ("ArrowLeft", spec["example"]["max"] - 1), ("Home", 0),
                              ("ArrowRight", 1)]:
            page.keyboard.press(key)
            assert int(slider.input_value()) == expected and root.locator("output").inner_text() == str(expected)
            explorer.controls["example"].value = expected
            compare(page_drawn(page, index), as_on_the_site(spec, explorer.drawn()), f"{spec['name']} after {key}")
    context.close()
    assert not problems, problems


def test_random_sweep_of_the_page_math_matches_the_package(browser, server):  # noqa: F811
    """Hundreds of seeded random cases through the page's math (page.evaluate), against attn_course."""
    context, page, _ = open_page(browser, server, "notebooks/04_mathematics.html")
    live(page)
    rng = np.random.default_rng(18)
    cases = []
    for _ in range(300):
        n, d = int(rng.integers(1, 10)), int(rng.integers(1, 9))
        x = rng.normal(0, 3, (n, d))
        on = rng.random(n) < 0.7
        causal = bool(rng.random() < 0.5)
        logits = rng.normal(0, 4, n)
        t = float(10 ** rng.uniform(-3, 1.5))  # from near 0 (almost argmax) to flat
        cases.append({"x": x.tolist(), "on": on.tolist(), "causal": causal, "logits": logits.tolist(), "T": t,
                      "angle": float(rng.uniform(-180, 180)), "length": float(rng.uniform(0, 3)),
                      "h": float(10 ** rng.uniform(-1.5, 0.5))})
    keys, values = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    kernel = widgets.KernelRegressionExplorer(n_train=30, seed=3)
    got = page.evaluate("""([cases, keys, values, k]) => cases.map(c => {
        const m = window.avExplorers.math;
        return {softmax: m.softmaxExplorer(c.logits, c.T), mask: m.mask(c.x, c.on, c.causal),
                ws: m.weightedSum(keys, values, c.angle, c.length),
                kernel: m.kernelRegression(k.x_train, k.noise, k.x_test, c.h)};
    })""", [cases, keys.tolist(), values.tolist(), web.spec(kernel)])
    for c, g in zip(cases, got):
        np.testing.assert_allclose(g["softmax"], softmax(c["logits"], temperature=c["T"]), rtol=0, atol=TOL)
        x = np.array(c["x"])
        _, w = scaled_dot_product_attention(x, x, x, mask=np.array(c["on"])[None, :], causal=c["causal"])
        np.testing.assert_allclose(np.array(g["mask"]).reshape(w.shape), w, rtol=0, atol=TOL)
        a = np.radians(c["angle"])
        q = c["length"] * np.array([np.cos(a), np.sin(a)])
        out, w = scaled_dot_product_attention(q[None], keys, values)
        np.testing.assert_allclose(g["ws"]["weights"], w[0], rtol=0, atol=TOL)
        np.testing.assert_allclose(g["ws"]["output"], out[0], rtol=0, atol=TOL)
        kernel.controls["h"].value = c["h"]
        np.testing.assert_allclose(g["kernel"]["weights"], kernel.weights(), rtol=0, atol=TOL)
        np.testing.assert_allclose(g["kernel"]["prediction"], kernel.weights() @ kernel.y_train, rtol=0, atol=TOL)
    context.close()


def test_random_sweep_of_the_page_rotary_embedding_matches_the_package(browser, server):  # noqa: F811
    """300 seeded cases of RoPE in the page (one vector, one position, a base) against rotary_embedding."""
    context, page, _ = open_page(browser, server, "notebooks/05b_positions.html")
    live(page)
    rng = np.random.default_rng(18)
    cases = []
    for _ in range(300):
        d = 2 * int(rng.integers(1, 17))
        cases.append({"x": rng.normal(0, 2, d).tolist(), "y": rng.normal(0, 2, d).tolist(),
                      "m": int(rng.integers(0, 65)), "n": int(rng.integers(0, 65)), "base": float(10 ** rng.uniform(1, 4.5))})
    got = page.evaluate("""cases => cases.map(c => {
        const m = window.avExplorers.math;
        return {turned: m.rotary(c.x, c.m, c.base), score: m.rotaryScore(c.x, c.y, c.m, c.n, c.base)};
    })""", cases)
    for c, g in zip(cases, got):
        turned = rotary_embedding(np.array([c["x"]]), [c["m"]], base=c["base"])[0]
        np.testing.assert_allclose(g["turned"], turned, rtol=0, atol=TOL)
        explorer_score = widgets.RotaryExplorer(c["x"], c["y"], base=c["base"], max_position=64).score(c["m"], c["n"])
        np.testing.assert_allclose(g["score"], explorer_score, rtol=0, atol=TOL)
    context.close()


@pytest.mark.parametrize("chapter", ["03_algorithm", "06_applications"])
def test_explorers_fit_a_phone_and_stay_usable(browser, server, chapter):  # noqa: F811
    context, page, _ = open_page(browser, server, f"notebooks/{chapter}.html", viewport={"width": 390, "height": 844})
    live(page)
    for i in range(page.locator(".av-explorer").count()):
        root = page.locator(".av-explorer").nth(i)
        root.scroll_into_view_if_needed()
        box = root.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, f"explorer {i} is wider than the phone: {box}"
        assert root.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), f"explorer {i} scrolls sideways"
        for control in root.locator("input[type=range]").all():
            b = control.bounding_box()
            assert b["x"] >= 0 and b["x"] + b["width"] <= 390 and b["height"] >= 16, f"a slider is cut off or tiny: {b}"
        for panel in root.locator("svg.av-panel").all():
            b = panel.bounding_box()
            assert b["x"] + b["width"] <= 391, f"a picture is cut off: {b}"
    context.close()


def contrast(a, b):
    def luminance(rgb):
        c = [v / 255 for v in rgb]
        c = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
    hi, lo = sorted([luminance(a), luminance(b)], reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("chapter", ["03_algorithm", "06_applications"])
def test_explorers_are_readable_in_dark_mode(browser, server, chapter):  # noqa: F811
    context, page, _ = open_page(browser, server, f"notebooks/{chapter}.html", color_scheme="dark")
    live(page)
    page.evaluate("document.documentElement.dataset.theme = 'dark'")
    colours = page.evaluate("""() => {
        const rgb = s => s.match(/\\d+(\\.\\d+)?/g).slice(0, 3).map(Number);
        const text = document.querySelector('.av-explorer svg text.av-tick');
        const output = document.querySelector('.av-explorer output');
        let e = text;  // the background behind the picture: the first one painted, going outwards
        while (e && getComputedStyle(e).backgroundColor.match(/rgba\\(.*, 0\\)$|transparent/)) e = e.parentElement;
        return {text: rgb(getComputedStyle(text).fill), output: rgb(getComputedStyle(output).color),
                background: rgb(getComputedStyle(e || document.body).backgroundColor)};
    }""")
    assert contrast(colours["text"], colours["background"]) >= 4.5, colours
    assert contrast(colours["output"], colours["background"]) >= 4.5, colours
    context.close()


@pytest.mark.parametrize("chapter, explorers", [("03_algorithm", 2), ("06_applications", 4)])
def test_without_javascript_the_snapshot_shows(browser, server, chapter, explorers):  # noqa: F811
    context, page, _ = open_page(browser, server, f"notebooks/{chapter}.html", java_script_enabled=False)
    snapshots = page.locator(".av-explorer img.av-snapshot")
    assert snapshots.count() == explorers
    for img in snapshots.all():
        assert img.is_visible() and img.evaluate("i => i.complete && i.naturalWidth > 0")
    context.close()


def test_only_pages_with_explorers_load_the_script():
    pages = [p for p in SITE.rglob("*.html") if "_static" not in p.parts]
    assert pages, "the website is not built: run `make site`"
    for p in pages:
        html = p.read_text(encoding="utf-8")
        has = 'class="av-explorer"' in html
        assert ("av-explorers.js" in html) == has, f"{p.relative_to(SITE)}: explorers {has}, script loaded {not has}"
    assert (SITE / "_static" / "av-explorers.js").read_text() == \
        (SITE.parents[1] / "book" / "_ext" / "live_static" / "av-explorers.js").read_text(), "the site ships an old script"
