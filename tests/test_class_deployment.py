"""Class deployment: nbgitpuller and Colab links, and the student site's configuration, all from _config.yml."""
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import class_links  # noqa: E402
import make_student_edition  # noqa: E402

CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def test_links_open_every_chapter_of_the_configured_repository():
    s = class_links.settings()
    chapters = class_links.chapters()
    assert chapters and all((ROOT / c).exists() for c in chapters)
    for path in chapters:
        link = urlparse(class_links.nbgitpuller_link(s, path))
        query = {k: v[0] for k, v in parse_qs(link.query).items()}
        assert f"{link.scheme}://{link.netloc}" == CONFIG["launch_buttons"]["jupyterhub_url"].rstrip("/")
        assert link.path == "/hub/user-redirect/git-pull"
        assert query == {"repo": CONFIG["repository"]["url"], "branch": CONFIG["repository"]["branch"],
                         "urlpath": f"lab/tree/{CONFIG['repository']['url'].rstrip('/').split('/')[-1]}/{path}"}
        colab = class_links.colab_link(s, path)
        assert colab == (f"https://colab.research.google.com/github/{urlparse(CONFIG['repository']['url']).path.strip('/')}"
                         f"/blob/{CONFIG['repository']['branch']}/{path}")


def test_student_links_and_hub_override():
    s = class_links.settings(student=True, hub="https://hub.my-university.edu/")
    link = class_links.nbgitpuller_link(s, "notebooks/03_algorithm.ipynb")
    assert link.startswith("https://hub.my-university.edu/hub/user-redirect/git-pull?")
    assert parse_qs(urlparse(link).query)["branch"] == ["student"]
    assert "/blob/student/notebooks/03_algorithm.ipynb" in class_links.colab_link(s, "notebooks/03_algorithm.ipynb")


def test_markdown_table_lists_every_chapter(capsys):
    class_links.main(["--markdown"])
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0].startswith("| chapter |") and len(rows) == 2 + len(class_links.chapters())


def test_student_site_config_changes_only_the_branch_solutions_and_guide(tmp_path):
    make_student_edition.main(["--site-config", str(tmp_path / "_config.yml")])
    student = yaml.safe_load((tmp_path / "_config.yml").read_text())
    assert student["repository"]["branch"] == "student"
    student["repository"]["branch"] = CONFIG["repository"]["branch"]
    assert student["sphinx"]["config"].pop("hide_solutions") is True
    assert student["exclude_patterns"].pop() == "book/instructor_guide.md"
    toc = (tmp_path / "_toc.yml").read_text()
    assert "instructor_guide" not in toc and toc.count("notebooks/") == (ROOT / "_toc.yml").read_text().count("notebooks/")
    # paths are made absolute so that the file works from another folder; they name the same files
    assert {k: Path(v) for k, v in student["sphinx"].pop("local_extensions").items()} == \
        {k: ROOT / v for k, v in CONFIG["sphinx"]["local_extensions"].items()}
    assert [Path(f) for f in student.pop("bibtex_bibfiles")] == [ROOT / f for f in CONFIG["bibtex_bibfiles"]]
    assert Path(student["html"].pop("favicon")) == ROOT / CONFIG["html"]["favicon"]
    rest = {k: v for k, v in CONFIG.items() if k != "bibtex_bibfiles"}
    rest = yaml.safe_load(yaml.safe_dump(rest))
    rest["sphinx"].pop("local_extensions")
    rest["html"].pop("favicon")
    assert student == rest


def test_student_site_leaves_solution_cells_out():
    from docutils import nodes
    from docutils.utils import new_document
    from docutils.frontend import get_default_settings

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import student_edition

    doc = new_document("chapter", get_default_settings())
    kept, solution = nodes.container(classes=["cell"]), nodes.container(classes=["cell", "tag_solution", "tag_hide-input"])
    doc += [kept, solution]

    class App:
        class config:
            hide_solutions = False
    student_edition.drop_solutions(App, doc)
    assert solution.parent is doc  # the main site keeps them
    App.config.hide_solutions = True
    student_edition.drop_solutions(App, doc)
    assert list(doc.findall(nodes.container)) == [kept]
