"""Take the README's picture of the site: a chapter page in headless Chromium.

    python scripts/screenshot.py [page] [out.png]     (after `make site`)
"""
import functools
import http.server
import shutil
import sys
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from conftest import CHROMIUM_ARGS, SITE  # noqa: E402


def main(page_path="notebooks/03_algorithm.html", out=ROOT / "book" / "images" / "site.png", anchor="explore-softmax-and-temperature"):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(SITE))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(f"http://127.0.0.1:{httpd.server_address[1]}/{page_path}#{anchor}", wait_until="networkidle")
        page.wait_for_timeout(1500)  # MathJax and the widget manager finish drawing
        page.screenshot(path=str(out))
        browser.close()
    httpd.shutdown()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
