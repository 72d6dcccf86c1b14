"""Copy the pinned front-end assets the website serves into _vendor/ (no CDN at read time).

Versions are pinned in vendor/package.json and vendor/package-lock.json; `npm ci` installs exactly
those. Only the files a page loads are copied (MathJax's full tree is ~60 MB, the site needs ~8 MB).
Run by `make site`; safe to re-run.
"""
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NPM = ROOT / "vendor"
MODULES = NPM / "node_modules"
OUT = ROOT / "_vendor"

# (source under node_modules, destination under _vendor); directories are copied whole.
FILES = [
    ("requirejs/require.js", "require/require.js"),
    ("@jupyter-widgets/html-manager/dist", "html-manager/dist"),
    ("mathjax/es5/tex-mml-chtml.js", "mathjax/tex-mml-chtml.js"),
    ("mathjax/es5/output/chtml/fonts/woff-v2", "mathjax/output/chtml/fonts/woff-v2"),
    ("mathjax/es5/input/tex/extensions", "mathjax/input/tex/extensions"),
    ("mathjax/es5/ui", "mathjax/ui"),
    ("mathjax/es5/a11y", "mathjax/a11y"),
    ("mathjax/es5/sre", "mathjax/sre"),
    ("mermaid/dist/mermaid.esm.min.mjs", "mermaid/mermaid.esm.min.mjs"),
    ("mermaid/dist/chunks/mermaid.esm.min", "mermaid/chunks/mermaid.esm.min"),
    # reveal.js for the chapters' slides (scripts/make_slides.py); the site's pages never load it.
    ("reveal.js/dist/reveal.js", "reveal.js/dist/reveal.js"),
    ("reveal.js/dist/reveal.css", "reveal.js/dist/reveal.css"),
    ("reveal.js/dist/theme", "reveal.js/dist/theme"),
    ("reveal.js/plugin/notes/notes.js", "reveal.js/plugin/notes/notes.js"),
]
# embed.js and libembed-amd.js are other builds of the widget manager; pages load embed-amd.js.
SKIP = shutil.ignore_patterns("*.map", "*.d.ts", "*.LICENSE.txt", "embed.js", "libembed-amd.js", "*.scss", "template")


def main():
    stamp = MODULES / ".package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < (NPM / "package-lock.json").stat().st_mtime:
        # --ignore-scripts: the assets are plain files; no install script needs to run.
        subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=NPM, check=True)
    shutil.rmtree(OUT, ignore_errors=True)
    for src, dst in FILES:
        src, dst = MODULES / src, OUT / dst
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=SKIP)
        else:
            shutil.copy2(src, dst)
    shutil.copy2(NPM / "widgets-config.js", OUT / "widgets-config.js")
    size = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"vendored {len(FILES) + 1} assets into {OUT.relative_to(ROOT)}/ ({size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
