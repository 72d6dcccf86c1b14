"""Present any chapter as reveal.js slides, served by the website itself (no CDN).

    python scripts/make_slides.py [notebooks/03_algorithm.ipynb ...]     (default: every chapter, both editions)

Writes _build/html/slides/<chapter>.slides.html next to the built site, and the Chinese edition's, made
from zh_CN/notebooks/, into _build/html/zh_CN/slides/ (run after `make site`; the slides load reveal.js,
MathJax, mermaid, require.js and the widget manager from the site's _static/).

Slides come from the notebook's own slide metadata (View > Cell Toolbar > Slideshow in Jupyter,
`metadata.slideshow.slide_type`). Where a cell has none, its place is derived from the chapter's
structure, so every chapter can be presented as it is:
    # or ## heading        a new slide
    ### heading            a sub-slide (down)
    the install cell       skipped (it does nothing in a lecture)
    a solution cell        skipped (exercises are solved in class; the answers stay in the book)
    anything else          on the current slide
"""
import sys
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter

import toc

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
STATIC = "../_static"  # from _build/html/slides/ to the site's static files


def slide_type(cell):
    """The reveal.js role of a cell without slide metadata."""
    tags = cell.metadata.get("tags", [])
    if "colab-install" in tags or "solution" in tags:
        return "skip"
    if cell.cell_type == "markdown":
        first = cell.source.lstrip().split("\n", 1)[0]
        if first.startswith(("# ", "## ")):
            return "slide"
        if first.startswith("### "):
            return "subslide"
    return "-"


def with_slide_metadata(nb):
    for cell in nb.cells:
        cell.metadata.setdefault("slideshow", {"slide_type": slide_type(cell)})
    return nb


def exporter():
    e = SlidesExporter(extra_template_paths=[str(ROOT / "scripts" / "slides")], template_file="course.html.j2")
    e.reveal_url_prefix = f"{STATIC}/reveal.js"
    e.require_js_url = f"{STATIC}/require/require.js"
    e.mathjax_url = f"{STATIC}/mathjax/tex-mml-chtml.js"
    e.mermaid_js_url = f"{STATIC}/mermaid/mermaid.esm.min.mjs"
    e.widget_renderer_url = f"{STATIC}/html-manager/dist/embed-amd.js"
    e.reveal_theme = "white"  # its fonts ship with reveal.js ("simple" imports Google Fonts)
    e.exclude_input_prompt = e.exclude_output_prompt = True
    return e


def main(paths):
    if not (SITE / "_static" / "reveal.js" / "dist" / "reveal.js").exists():
        sys.exit("build the website first (make site): the slides load their scripts from _build/html/_static/")
    english = [Path(p).resolve() for p in paths] or toc.chapters()
    # the Chinese edition's: the same chapters, their markdown translated (scripts/i18n.py)
    chinese = [ROOT / "zh_CN" / "notebooks" / p.name for p in english]
    for site, chapters in ((SITE, english), (SITE / "zh_CN", [p for p in chinese if p.exists()])):
        if chapters and site.exists():
            write_slides(chapters, site / "slides")


def write_slides(paths, out):
    out.mkdir(exist_ok=True)
    slides = exporter()
    for path in paths:
        nb = with_slide_metadata(nbformat.read(path, as_version=4))
        html, _ = slides.from_notebook_node(nb, resources={"widgets_config_url": f"{STATIC}/widgets-config.js",
                                                               "cjk_css_url": f"{STATIC}/noto-sans-sc/cjk.css"})
        target = out / f"{path.stem}.slides.html"
        target.write_text(html, encoding="utf-8")
        n = sum(c.metadata["slideshow"]["slide_type"] in ("slide", "subslide") for c in nb.cells)
        print(f"{target.relative_to(ROOT)}: {n} slides")


if __name__ == "__main__":
    main(sys.argv[1:])
