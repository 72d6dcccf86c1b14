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


def drop_unused_widget_manager(app, pagename, templatename, context, doctree):
    """A chapter's stored widget state brings the ipywidgets manager (require.js and a 4 MB embed-amd.js)
    and the state itself (up to 0.5 MB) into its page. Where every widget view of the page has given way
    to the explorer's HTML (the mime type chosen, it is known only now), nothing on the page uses them."""
    if "application/vnd.jupyter.widget-view+json" not in context.get("body", ""):
        files = getattr(app.env, "nb_metadata", {}).get(pagename, {}).get("js_files", {})
        for key in [k for k in files if k.startswith("ipywidgets")]:
            del files[key]


def setup(app):
    app.connect("config-inited", add_static_path)
    # before myst-nb adds the page's scripts (priority 500)
    app.connect("html-page-context", drop_unused_widget_manager, priority=400)
    app.connect("html-page-context", add_to_pages_with_explorers)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
