"""Two editions of one book: English at the site's root, Chinese (中文) in zh_CN/ beside it.

Every page gets a visible link, in the article's header, to the same page in the other language, and
`<link rel="alternate" hreflang>` for both. On the Chinese pages the launch buttons (Colab, Binder,
JupyterHub) and the .ipynb download open the Chinese notebooks, zh_CN/notebooks/ (scripts/i18n.py makes
them from the English chapters and the catalogues), so a learner who reads in Chinese runs in Chinese.
"""
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = Path(__file__).resolve().parent / "templates"
CHINESE = "zh_CN"
EDITIONS = {"en": ("English", "en", ""), CHINESE: ("中文", "zh-CN", f"{CHINESE}/")}


def language(app):
    return CHINESE if (app.config.language or "en").startswith("zh") else "en"


def add_switch_to_header(app, config):
    config.templates_path.append(str(TEMPLATES))
    config.html_theme_options["article_header_end"] = ["language-switch.html", "article-header-buttons.html"]


def link_to_other_edition(app, pagename, templatename, context, doctree):
    here = language(app)
    up = "../" * (pagename.count("/") + (here == CHINESE))  # from this page to the English root
    editions = {lang: f"{up}{folder}{pagename}.html" for lang, (_, _, folder) in EDITIONS.items()}
    other = "en" if here == CHINESE else CHINESE
    label, hreflang, _ = EDITIONS[other]
    context["language_switch"] = {"href": editions[other], "label": label, "hreflang": hreflang,
                                  "title": "Read this page in Chinese" if other == CHINESE else "阅读本页的英文版"}
    context["metatags"] = context.get("metatags", "") + "".join(
        f'\n<link rel="alternate" hreflang="{EDITIONS[lang][1]}" href="{href}">' for lang, href in editions.items())


def launch_chinese_notebooks(app, pagename, templatename, context, doctree):
    if language(app) == CHINESE and pagename.startswith("notebooks/"):
        for button in context.get("header_buttons", []):
            if button.get("label") == "launch-buttons":
                for launch in button["buttons"]:
                    launch["url"] = launch["url"].replace(f"{pagename}.ipynb", f"{CHINESE}/{pagename}.ipynb")


def translate_toctree_captions(app, doctree):
    """The sidebar's part captions ("Chapters", ...) from the root page's catalogue: sphinx-external-toc
    inserts the toctrees after Sphinx has translated the page, so Sphinx's own pass misses them."""
    if language(app) != CHINESE:
        return
    from sphinx import addnodes
    from sphinx.locale import init
    from sphinx.util.i18n import docname_to_domain

    domain = docname_to_domain(app.env.docname, app.config.gettext_compact)
    dirs = [str(Path(app.srcdir) / d) for d in app.config.locale_dirs]
    catalogue, found = init(dirs, app.config.language, domain, namespace=f"av-{domain}")
    if found:
        for toctree in doctree.findall(addnodes.toctree):
            if toctree.get("caption"):
                toctree["caption"] = catalogue.gettext(toctree["caption"])


def ship_chinese_notebooks(app, exception):
    """The Chinese pages' .ipynb download: the Chinese notebook, in place of the English source."""
    if exception is None and language(app) == CHINESE and app.builder.format == "html":
        for notebook in (ROOT / CHINESE / "notebooks").glob("*.ipynb"):
            target = Path(app.outdir) / "_sources" / "notebooks" / notebook.name
            if target.exists():
                shutil.copyfile(notebook, target)


def setup(app):
    app.connect("config-inited", add_switch_to_header)
    # before pydata-sphinx-theme drops the header templates that render empty (priority 500) ...
    app.connect("html-page-context", link_to_other_edition, priority=400)
    # ... and after sphinx-book-theme has made the launch buttons (priority 501)
    app.connect("html-page-context", launch_chinese_notebooks, priority=600)
    app.connect("doctree-read", translate_toctree_captions)
    app.connect("build-finished", ship_chinese_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
