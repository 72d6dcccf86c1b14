"""The built website, opened page by page in headless Chromium with every non-local request blocked.

A page fails on: a request to anything but the local server, a failed request or HTTP error, a console
error or uncaught exception, math that MathJax left unrendered, a mermaid diagram without its SVG, a
widget snapshot that did not render, Chinese drawn as empty boxes (tofu), or a broken internal link. Run `make site` first (`make test` does).
"""
import functools
import http.server
import re
import threading
from html.parser import HTMLParser
from urllib.parse import unquote, urldefrag, urlparse

import numpy as np
import pytest
import yaml

from conftest import ROOT, SITE

HARMLESS_CONSOLE = [re.compile(r"Got invalid theme mode")]  # sphinx-book-theme, once on a fresh profile


def pages():
    if not (SITE / "index.html").exists():
        return []
    skip = {"_static", "_sources", "_images"}
    return sorted(p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html") if not skip & set(p.relative_to(SITE).parts))


def test_site_is_built():
    assert (SITE / "index.html").exists(), "the website is not built: run `make site`"
    assert len(pages()) >= 4


@pytest.fixture(scope="module")
def server():
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.mark.browser
@pytest.mark.parametrize("page_path", pages())
def test_page_renders_offline(browser, server, page_path):
    context = browser.new_context()
    page = context.new_page()
    problems = []

    def route(r):
        if r.request.url.startswith(server):
            r.continue_()
        else:
            problems.append(f"request to the outside: {r.request.url}")
            r.abort()

    page.route("**/*", route)
    page.on("requestfailed", lambda req: req.url.startswith(server) and problems.append(f"failed: {req.url} ({req.failure})"))
    page.on("response", lambda res: res.status >= 400 and problems.append(f"HTTP {res.status}: {res.url}"))
    page.on("pageerror", lambda err: problems.append(f"uncaught exception: {err}"))
    page.on("console", lambda msg: msg.type == "error" and not any(h.search(msg.text) for h in HARMLESS_CONSOLE)
            and problems.append(f"console error: {msg.text}"))
    page.goto(server + page_path, wait_until="networkidle")

    n_math = page.locator(".math").count()
    if n_math:
        page.wait_for_function("n => document.querySelectorAll('.math mjx-container').length >= n", arg=n_math,
                               timeout=20_000)
        assert page.locator("mjx-merror").count() == 0, "MathJax reported an error in a formula"
    n_mermaid = page.locator(".mermaid").count()
    if n_mermaid:
        page.wait_for_function("n => document.querySelectorAll('.mermaid svg').length >= n", arg=n_mermaid,
                               timeout=20_000)
    n_widgets = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
    if n_widgets:
        # The manager replaces each view script by the widget's DOM; Image widgets must show a decoded picture.
        page.wait_for_function("n => document.querySelectorAll('.jupyter-widgets.widget-container, "
                               ".jupyter-widgets.widget-inline-hbox, .jupyter-widgets.widget-image').length >= n",
                               arg=n_widgets, timeout=30_000)
        images = page.locator(".jupyter-widgets img")
        assert images.count() >= 1, "no widget image rendered"
        for i in range(images.count()):
            assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0"), f"widget image {i} is broken"
    if page_path in CHINESE_PAGES:
        assert_no_tofu(page, page_path)
    page.wait_for_timeout(300)  # late console errors from deferred scripts
    context.close()
    assert not problems, "\n".join(problems)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("href", "src"):
            if attrs.get(name) and tag in ("a", "img", "script", "link"):
                self.urls.append(attrs[name])


@pytest.mark.parametrize("page_path", pages())
def test_internal_links_resolve(page_path):
    parser = _Links()
    page = SITE / page_path
    parser.feed(page.read_text(encoding="utf-8"))
    broken = []
    for url in parser.urls:
        parsed = urlparse(url)
        if parsed.scheme or url.startswith(("#", "//", "mailto:", "data:")):
            continue
        target = (page.parent / unquote(urldefrag(parsed.path).url)).resolve()
        if not target.exists():
            broken.append(url)
    assert not broken, f"{page_path} links to missing files: {broken}"


def test_launch_buttons_follow_the_repository_setting():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = urlparse(config["repository"]["url"]).path.strip("/")
    chapter_pages = [SITE / p for p in pages() if p.startswith("notebooks/")]
    assert chapter_pages, "no chapter pages were built"
    for page in chapter_pages:
        html = page.read_text(encoding="utf-8")
        name = page.relative_to(SITE).with_suffix(".ipynb").as_posix()
        assert f"colab.research.google.com/github/{repo}/blob/main/{name}" in html, f"{page.name}: no Colab button"
        assert f"mybinder.org/v2/gh/{repo}/main?urlpath=" in html, f"{page.name}: no Binder button"
        assert config["launch_buttons"]["jupyterhub_url"] in html, f"{page.name}: no JupyterHub button"


def toc_chapters():
    return re.findall(r"^\s*- file: notebooks/(\S+)", (ROOT / "_toc.yml").read_text(), flags=re.M)


@pytest.mark.browser
@pytest.mark.parametrize("chapter", toc_chapters())
def test_every_chapter_has_offline_slides(browser, server, chapter):
    """scripts/make_slides.py (run by `make site`) turns each chapter into reveal.js slides served by the site;
    test_page_renders_offline checks their requests, console and math like any other page."""
    slides = SITE / "slides" / f"{chapter}.slides.html"
    assert slides.exists(), f"no slides for {chapter}: run `make site`"
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server}slides/{slides.name}", wait_until="networkidle")
    page.wait_for_function("document.body.dataset.slidesReady === 'true'", timeout=20_000)
    n_slides = page.locator(".reveal .slides > section").count()
    context.close()
    assert n_slides >= 3, f"{chapter}: only {n_slides} slides; its ## headings should each start one"


CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def pages_with_chinese():
    """The pages whose text (not their scripts or styles) holds Chinese."""
    def text(path):
        html = re.sub(r"<(script|style)\b.*?</\1>", "", (SITE / path).read_text(encoding="utf-8"), flags=re.S | re.I)
        return re.sub(r"<[^>]+>", "", html)
    return [p for p in pages() if CJK.search(text(p))]


CHINESE_PAGES = set(pages_with_chinese())


# Where the page shows Chinese, in each style (weight, family) it uses for it: two different characters of
# one text, cut from a screenshot of the page itself. With no font for them both are the same empty box
# ("tofu"), which this machine, with no CJK font installed, shows unless the site brings its own. The test
# looks at the page's own text because that is what can fail: characters drawn afresh (on a canvas, or in
# a probe added after the fonts loaded) came out right in Chromium where the page's text showed boxes.
FIND_PAIRS = """() => {
  // slides: no zoom, so that a text's box and the screenshot agree
  if (window.Reveal) Reveal.configure({minScale: 1, maxScale: 1});
  const cjk = /[\\u3400-\\u4dbf\\u4e00-\\u9fff]/;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const pairs = new Map();
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    const onSlide = window.Reveal && el.closest(".reveal .slides section");  // shown when its slide is
    if (!el.getClientRects().length && !onSlide) continue;
    const style = getComputedStyle(el);
    const key = `${style.fontStyle} ${style.fontWeight} ${style.fontFamily}`;
    if (pairs.has(key)) continue;
    const text = node.data;
    for (let i = 0; i < text.length; i++) {
      const j = [...text].findIndex((c, k) => k > i && cjk.test(c) && c !== text[i]);
      if (cjk.test(text[i]) && j > 0) { pairs.set(key, [node, i, j]); break; }
    }
  }
  window.__cjkPairs = [...pairs.entries()];
  return window.__cjkPairs.length;
}"""
SHOW = """i => {
  const [key, [node, a, b]] = window.__cjkPairs[i];
  if (!node.isConnected) return false;  // replaced since (the widget manager redraws its views)
  const section = window.Reveal && node.parentElement.closest(".reveal .slides section");
  if (section) { const at = Reveal.getIndices(section); Reveal.slide(at.h, at.v); }  // slides: go to its slide
  node.parentElement.scrollIntoView({block: "center"});
  return true;
}"""
RECTS = """i => {
  const [key, [node, a, b]] = window.__cjkPairs[i];
  const rect = k => { const r = document.createRange(); r.setStart(node, k); r.setEnd(node, k + 1);
                      const b = r.getBoundingClientRect(); return {x: b.x, y: b.y, width: b.width, height: b.height}; };
  return {style: key, chars: node.data[a] + node.data[b], a: rect(a), b: rect(b)};
}"""


def _pixels(png):
    import io

    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)


def _difference(a, b):
    """The share of pixels that differ clearly (by more than 96 of 255) between two glyphs' pictures, at
    the best of the alignments within one pixel."""
    h, w = min(a.shape[0], b.shape[0]) - 2, min(a.shape[1], b.shape[1]) - 2
    return min(float((np.abs(a[1:1 + h, 1:1 + w] - b[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]) > 96).mean())
               for dy in (-1, 0, 1) for dx in (-1, 0, 1))


# Styles (italic, weight, font stack) already seen drawn with real glyphs: each page checks at least one of
# its Chinese texts, and every style it uses that no earlier page has shown (the Chinese edition has
# hundreds of pages' worth of Chinese, in a handful of styles).
VERIFIED_STYLES = set()


def assert_no_tofu(page, page_path):
    """Where `page` shows Chinese, it is drawn with real glyphs (test_page_renders_offline calls this on
    every page whose text holds Chinese, after the page has loaded and rendered)."""
    if "/slides/" in page_path:
        page.wait_for_selector("body[data-slides-ready]", timeout=20_000)
    page.evaluate("document.fonts.ready")
    n = page.evaluate(FIND_PAIRS)
    assert n > 0, "the page shows no text with two different Chinese characters"
    keys = page.evaluate("() => window.__cjkPairs.map(p => p[0])")
    tofu, checked = [], 0
    for i in range(n):
        if checked and keys[i] in VERIFIED_STYLES:
            continue  # seen drawn with real glyphs on an earlier page; this page has had its own check
        if not page.evaluate(SHOW, i):
            continue
        # the slices of the font for the characters just shown (another slide, say) load, and the page settles
        page.evaluate("async () => { await document.fonts.ready; "
                      "await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r))); }")
        page.wait_for_timeout(400)  # a slide's transition, a diagram's late drawing
        pair = page.evaluate(RECTS, i)
        height = page.viewport_size["height"]
        if not all(r["width"] >= 1 and r["height"] >= 1 and r["y"] >= 0 and r["y"] + r["height"] <= height
                   for r in (pair["a"], pair["b"])):
            continue  # a glyph not on the screen (clipped by a scrolling box, under a sticky header)
        shots = [_pixels(page.screenshot(clip=pair[side])) for side in "ab"]
        checked += 1
        # Two different glyphs differ in far more than 5% of their pixels, however they are aligned; two
        # empty boxes differ only by anti-aliasing, as they sit at different sub-pixel offsets.
        if _difference(*shots) < 0.05:
            tofu.append(f"{pair['chars']} in {pair['style'][:60]}")
        else:
            VERIFIED_STYLES.add(keys[i])
    assert checked > 0, "every text with Chinese was replaced before it could be looked at"
    assert not tofu, f"Chinese drawn as empty boxes (no font has the glyphs): {tofu}"


def test_the_chinese_pages_are_found():
    """The tofu check (in test_page_renders_offline) runs on the pages whose text holds Chinese: every page
    of the Chinese edition, and the English glossary, errata and intro."""
    chinese = set(pages_with_chinese())
    assert {p for p in pages() if p.startswith("zh_CN/") and not p.endswith("index.html")} <= chinese
    assert {"book/glossary.html", "book/errata.html"} <= chinese


# ---- the two editions: English at the root, Chinese in zh_CN/ (book/_ext/language_switch.py) -------------

SWITCH = re.compile(r'class="btn av-language-switch" href="([^"]+)"')


def book_pages():
    """The Sphinx pages (not the slides) of both editions."""
    return [p for p in pages() if "/slides/" not in f"/{p}" and not p.endswith("index.html")]  # index: a redirect


def test_both_editions_are_built_page_for_page():
    english = {p for p in book_pages() if not p.startswith("zh_CN/")}
    chinese = {p.removeprefix("zh_CN/") for p in book_pages() if p.startswith("zh_CN/")}
    assert chinese, "the Chinese edition is not built: run `make site`"
    assert english == chinese, f"pages in one edition only: {sorted(english ^ chinese)}"
    assert {p.removeprefix("zh_CN/") for p in pages() if "slides/" in p and p.startswith("zh_CN/")} == \
        {p for p in pages() if p.startswith("slides/")}, "the Chinese slides differ from the English ones"


@pytest.mark.parametrize("page_path", book_pages())
def test_every_page_links_to_the_same_page_in_the_other_edition(page_path):
    found = SWITCH.search((SITE / page_path).read_text(encoding="utf-8"))
    assert found, f"{page_path} has no language switch"
    target = ((SITE / page_path).parent / found.group(1)).resolve().relative_to(SITE.resolve()).as_posix()
    other = page_path.removeprefix("zh_CN/") if page_path.startswith("zh_CN/") else f"zh_CN/{page_path}"
    assert target == other, f"{page_path}: the switch leads to {target}, not {other}"


def test_chinese_pages_launch_and_download_the_chinese_notebooks():
    for chapter in toc_chapters():
        html = (SITE / "zh_CN" / "notebooks" / f"{chapter}.html").read_text(encoding="utf-8")
        assert f"blob/main/zh_CN/notebooks/{chapter}.ipynb" in html, f"{chapter}: Colab opens the English notebook"
        assert f"lab/tree/zh_CN/notebooks/{chapter}.ipynb" in html, f"{chapter}: Binder opens the English notebook"
        download = SITE / "zh_CN" / "_sources" / "notebooks" / f"{chapter}.ipynb"
        assert download.read_bytes() == (ROOT / "zh_CN" / "notebooks" / f"{chapter}.ipynb").read_bytes()


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_language_switch_goes_there_and_back(browser, server, width):
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    page.goto(server + "notebooks/03_algorithm.html", wait_until="networkidle")
    page.get_by_role("link", name="中文", exact=True).click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/zh_CN/notebooks/03_algorithm.html")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert CJK.search(page.locator("h1").first.inner_text()), "the Chinese page's title is not in Chinese"
    page.get_by_role("link", name="English", exact=True).click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/notebooks/03_algorithm.html") and "/zh_CN/" not in page.url
    context.close()


@pytest.mark.browser
@pytest.mark.parametrize("edition, query", [("", "softmax"), ("", "attention pooling"), ("zh_CN/", "注意力"),
                                            ("zh_CN/", "掩码"), ("zh_CN/", "注意力汇聚")])
def test_search_finds_pages_in_both_languages(browser, server, edition, query):
    """Chinese is written without spaces: the index is cut into words by jieba (scripts/i18n.py)."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server}{edition}search.html?q={query}", wait_until="networkidle")
    page.wait_for_function("document.querySelector('#search-results .search-summary') !== null", timeout=20_000)
    hits = page.locator("#search-results ul.search > li")
    n = hits.count()
    links = [hits.nth(i).locator("a").first.get_attribute("href") for i in range(min(n, 5))]
    context.close()
    assert n >= 2, f"searching {query!r} in /{edition} found {n} pages"
    assert all(("zh_CN/" in (edition + link)) == bool(edition) for link in links), links


@pytest.mark.parametrize("page_path", book_pages())
def test_the_widget_manager_loads_only_where_a_widget_is_drawn(page_path):
    """Every explorer is drawn by the site's own script (book/_ext/live_explorers.py): the ipywidgets
    manager (a 4 MB script) and the stored widget state load only on a page that shows a widget view."""
    html = (SITE / page_path).read_text(encoding="utf-8")
    views = 'type="application/vnd.jupyter.widget-view+json"' in html
    assert ("embed-amd.js" in html) == views and ("widget-state+json" in html) == views
