"""The live explorers on the website: their script and style, on the pages that hold one, and only there.

attn_course/web.py writes each explorer as a `<div class="av-explorer">` (a JSON spec and the snapshot);
live_static/av-explorers.js makes it live. The folder is added to html_static_path at config-inited, after
Jupyter Book has scanned _static/ (which it would add to every page); the script is added per page, as
sphinx.ext.mathjax adds MathJax only where there is math.
"""
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "live_static"
MARK = 'class="av-explorer"'


def add_static_path(app, config):
    config.html_static_path.append(str(STATIC))


def add_to_pages_with_explorers(app, pagename, templatename, context, doctree):
    if MARK in context.get("body", ""):
        app.add_css_file("av-explorers.css")
        app.add_js_file("av-explorers.js", defer="defer")


def setup(app):
    app.connect("config-inited", add_static_path)
    app.connect("html-page-context", add_to_pages_with_explorers)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
