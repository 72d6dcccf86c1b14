"""Links that open each chapter for a class: on the class's JupyterHub (via nbgitpuller) and on Colab.

    python scripts/class_links.py [--student] [--hub URL] [--markdown]

Everything is derived from `_config.yml`: `repository.url` and `repository.branch` name the repository,
`launch_buttons.jupyterhub_url` the hub (override with --hub). --student points every link at the
student edition, published on the branch `student` (book/class_deployment.md says how).

An nbgitpuller link (https://nbgitpuller.readthedocs.io) asks the hub to clone the repository into the
student's home, or to merge new commits into the copy already there without overwriting the student's
changes, and then opens the chapter in JupyterLab. The hub needs `nbgitpuller` installed in the user
environment; nothing else.
"""
import argparse
import sys
from pathlib import Path
from urllib.parse import quote, urlencode, urlparse

import yaml

import toc

ROOT = Path(__file__).resolve().parents[1]
STUDENT_BRANCH = "student"


def settings(config_path=ROOT / "_config.yml", student=False, hub=None):
    config = yaml.safe_load(Path(config_path).read_text())
    repo = config["repository"]
    return {
        "url": repo["url"].rstrip("/"),
        "branch": STUDENT_BRANCH if student else repo.get("branch", "main"),
        "hub": (hub or config["launch_buttons"]["jupyterhub_url"]).rstrip("/"),
    }


def chapters():
    """The chapters in the order of the table of contents: notebooks/NN_name.ipynb paths."""
    return [str(path.relative_to(ROOT)) for path in toc.chapters()]


def nbgitpuller_link(s, path):
    """{hub}/hub/user-redirect/git-pull?repo=...&branch=...&urlpath=lab/tree/<clone folder>/<path>"""
    folder = urlparse(s["url"]).path.rstrip("/").split("/")[-1]
    query = urlencode({"repo": s["url"], "branch": s["branch"], "urlpath": f"lab/tree/{folder}/{path}"}, quote_via=quote)
    return f"{s['hub']}/hub/user-redirect/git-pull?{query}"


def colab_link(s, path):
    owner_repo = urlparse(s["url"]).path.strip("/")
    return f"https://colab.research.google.com/github/{owner_repo}/blob/{s['branch']}/{path}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--student", action="store_true", help="link the student edition (branch 'student')")
    parser.add_argument("--hub", help="the class's JupyterHub (default: launch_buttons.jupyterhub_url)")
    parser.add_argument("--markdown", action="store_true", help="a markdown table to paste into a course page")
    args = parser.parse_args(argv)
    s = settings(student=args.student, hub=args.hub)
    if args.markdown:
        print("| chapter | JupyterHub | Colab |\n| --- | --- | --- |")
    for path in chapters():
        hub, colab = nbgitpuller_link(s, path), colab_link(s, path)
        print(f"| {Path(path).stem} | [open]({hub}) | [open]({colab}) |" if args.markdown else f"{path}\n  {hub}\n  {colab}")


if __name__ == "__main__":
    sys.exit(main())
