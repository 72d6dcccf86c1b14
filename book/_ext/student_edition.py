"""The student site: chapter pages without the exercises' solutions.

With `hide_solutions: true` in the Sphinx configuration (scripts/make_student_edition.py --site-config
writes it, `make site-student` builds with it), every notebook cell tagged `solution` is left out of the
pages. myst-nb marks each cell's container with a class per tag (`tag_solution`), which is how they
are found. The main site keeps them, folded behind "Show code cell source".
"""
from docutils import nodes


def drop_solutions(app, doctree):
    if not app.config.hide_solutions:
        return
    for cell in list(doctree.findall(nodes.container)):
        if "tag_solution" in cell.get("classes", []):
            cell.parent.remove(cell)


def setup(app):
    app.add_config_value("hide_solutions", False, "env")
    app.connect("doctree-read", drop_solutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
