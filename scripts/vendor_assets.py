"""Copy the pinned front-end assets the website serves into _vendor/ (no CDN at read time).

Versions are pinned in vendor/package.json and vendor/package-lock.json; `npm ci` installs exactly
those. Only the files a page loads are copied (MathJax's full tree is ~60 MB, the site needs ~8 MB).
Run by `make site`; safe to re-run.
"""
import re
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
# Noto Sans SC (SIL Open Font License) for the Chinese on the pages: the source's quotations, the glossary's
# 中文 column. Google's slicing into ~100 unicode-range subsets means a page downloads only the slices
# holding its characters, and a page without Chinese downloads none.
FONT = "@fontsource/noto-sans-sc"
FONT_WEIGHTS = (400, 700)  # body text and bold/headings

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
    vendor_cjk_font()
    size = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"vendored {len(FILES) + 1} assets into {OUT.relative_to(ROOT)}/ ({size / 2**20:.1f} MiB)")


# The code points the font is used for: CJK radicals to unified ideographs (with CJK punctuation, kana and
# extension A), compatibility ideographs and forms, full-width forms, and the supplementary ideographs.
CJK_BLOCKS = [(0x2E80, 0x9FFF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF), (0x20000, 0x3FFFF)]


def cjk_only(unicode_range):
    """A CSS unicode-range cut down to CJK_BLOCKS ("" if nothing is left). Google's slices also hold some
    ASCII, punctuation and emoji; the site's font stack names Noto Sans SC first, so without the cut a
    space or a digit would download a slice on every page and render in it."""
    parts = []
    for part in unicode_range.replace("U+", "").split(","):
        lo, _, hi = part.strip().partition("-")
        lo, hi = int(lo, 16), int(hi or lo, 16)
        for a, b in CJK_BLOCKS:
            if max(lo, a) <= min(hi, b):
                x, y = max(lo, a), min(hi, b)
                parts.append(f"U+{x:x}" if x == y else f"U+{x:x}-{y:x}")
    return ",".join(parts)


def vendor_cjk_font():
    """_vendor/noto-sans-sc/cjk.css and the woff2 slices it names: the CJK slices only, cut to CJK code
    points, and the woff2 files only (every browser that runs the site reads woff2)."""
    src, dst = MODULES / FONT, OUT / "noto-sans-sc"
    (dst / "files").mkdir(parents=True)
    faces = []
    for weight in FONT_WEIGHTS:
        css = (src / f"{weight}.css").read_text()
        # each face follows a comment naming its slice: "noto-sans-sc-[12]-400-normal" (CJK) or "-latin-" etc.
        for name, face in re.findall(r"/\* (noto-sans-sc-\[\d+\]-\d+-normal) \*/\n(@font-face \{.*?\})", css, re.S):
            face = re.sub(r",\s*url\([^)]*\.woff\) format\('woff'\)", "", face)
            ranges = cjk_only(re.search(r"unicode-range: ([^;]+);", face).group(1))
            if not ranges:
                continue
            face = re.sub(r"unicode-range: [^;]+;", f"unicode-range: {ranges};", face)
            for woff2 in re.findall(r"url\(\./files/([^)]+\.woff2)\)", face):
                shutil.copy2(src / "files" / woff2, dst / "files" / woff2)
            faces.append(f"/* {name} */\n{face}")
    if not faces:
        raise RuntimeError(f"no CJK font faces found in {src}: has the package's CSS layout changed?")
    (dst / "cjk.css").write_text(f"/* {FONT}, CJK slices of weights {FONT_WEIGHTS}, woff2 only "
                                 f"(scripts/vendor_assets.py) */\n" + "\n\n".join(faces) + "\n")
    shutil.copy2(src / "LICENSE", dst / "LICENSE")


if __name__ == "__main__":
    main()
