"""Serve the vendored front-end assets (MathJax, mermaid, require.js, widget manager, the CJK font) from _static/.

Jupyter Book 1 adds every *.js found in the book's own _static/ folder to *every* page. The vendored
trees hold hundreds of scripts that must load only where needed (MathJax by Sphinx, mermaid by
sphinxcontrib-mermaid, the widget manager by myst-nb), so they live in _vendor/ and are added to
html_static_path here, after Jupyter Book has scanned _static/.
"""
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[2] / "_vendor"


def add_vendor_to_static_path(app, config):
    if not (VENDOR / "mathjax" / "tex-mml-chtml.js").exists():
        raise RuntimeError(f"{VENDOR} is missing or incomplete: run `python scripts/vendor_assets.py` first")
    config.html_static_path.append(str(VENDOR))


def drop_thebe(app):
    """Remove sphinx-thebe's page scripts: live code in the page (thebe) is off in this book, yet the
    extension, which Jupyter Book always loads, writes a script naming a CDN copy of thebe into every
    page, twice after an incremental build ("Identifier 'THEBE_JS_URL' has already been declared")."""
    # Only the two page hooks go; its static files (sphinx-thebe.css, linked from every page) stay.
    for event in ("env-before-read-docs", "doctree-resolved"):
        for listener in list(app.events.listeners.get(event, [])):
            if getattr(listener.handler, "__name__", "") in ("init_thebe_core", "update_thebe_context"):
                app.disconnect(listener.id)


def setup(app):
    app.connect("config-inited", add_vendor_to_static_path)
    # The Chinese font's faces on every page; a browser downloads a slice only for characters on the page.
    app.add_css_file("noto-sans-sc/cjk.css")
    drop_thebe(app)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
