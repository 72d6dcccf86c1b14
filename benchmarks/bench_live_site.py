"""The live explorers on the built website, in real (headless) Chromium: how fast they redraw, what they weigh.

    python benchmarks/bench_live_site.py [steps]          (after `make site`)

Per explorer (chapter 6's example explorers named by their application: example:speech), its first control
(a slider, or the first key's toggle) is moved `steps` times (default 60)
by input events, as a reader's drag or keypress makes them; each step is timed in the page from just
before the event to
    redraw   the script's work done and the page's style and layout brought up to date (the work a frame
             must fit: target p95 <= 16 ms, one frame at 60 Hz), and
    frame    the next animation frame after it (this includes waiting for the display's next tick, so
             it is up to 16.7 ms more than the work itself).
Also: the page weight the explorers add (the script and style, gzipped; and the specs in the page), and
the time from navigation until the first explorer is live.
"""
import functools
import gzip
import http.server
import re
import shutil
import sys
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from conftest import CHROMIUM_ARGS, SITE  # noqa: E402

STEP = """async ([i, steps]) => {
    const root = document.querySelectorAll('.av-explorer')[i];
    const input = root.querySelector('.av-controls input[type=range], .av-controls button');
    const redraw = [], frame = [];
    for (let k = 0; k < steps; k++) {
        const t0 = performance.now();
        if (input.type === 'range') {
            const lo = Number(input.min), hi = Number(input.max);
            input.value = lo + ((k * 7919) % 101) / 100 * (hi - lo);  // a new value every step, all over the range
            input.dispatchEvent(new Event('input', {bubbles: true}));
        } else {
            input.click();
        }
        root.getBoundingClientRect();  // forces style and layout
        redraw.push(performance.now() - t0);
        await new Promise(r => requestAnimationFrame(() => r()));
        frame.push(performance.now() - t0);
    }
    const example = root.querySelector('.av-example');  // chapter 6: one explorer kind, four applications
    return {kind: root.dataset.kind + (example ? ':' + example.dataset.name : ''), control: input.type === 'range' ? input.labels[0].textContent : 'toggle',
            redraw, frame};
}"""


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


def main(steps=60):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(SITE)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    pages = sorted(p for p in (SITE / "notebooks").glob("*.html") if 'class="av-explorer"' in p.read_text(encoding="utf-8"))
    static = sum(len(gzip.compress((SITE / "_static" / f).read_bytes(), 9)) for f in ("av-explorers.js", "av-explorers.css"))
    print(f"script + style, gzipped: {static / 1024:.1f} KB (loaded only by the {len(pages)} pages with explorers)\n")
    print(f"{'page':<20} {'explorer':<20} {'control':<10} {'redraw p50':>10} {'p95 ms':>7} {'frame p50':>10} {'p95 ms':>7}")
    live = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        for path in pages:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort())
            page.goto(base + path.relative_to(SITE).as_posix(), wait_until="load")
            page.wait_for_function("window.avExplorers && window.avExplorers.ready")
            live.append((path.stem, page.evaluate("window.avExplorers.readyAt"),
                         page.evaluate("performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd")))
            html = path.read_text(encoding="utf-8")
            specs = re.findall(r'<script type="application/json" class="av-spec">(.*?)</script>', html, re.S)
            live[-1] += (sum(len(gzip.compress(s.encode(), 9)) for s in specs),)
            for i in range(page.locator(".av-explorer").count()):
                r = page.evaluate(STEP, [i, steps])
                print(f"{path.stem:<20} {r['kind']:<20} {r['control'][:10]:<10} {percentile(r['redraw'], 50):>10.2f} "
                      f"{percentile(r['redraw'], 95):>7.2f} {percentile(r['frame'], 50):>10.2f} {percentile(r['frame'], 95):>7.2f}")
            page.close()
        browser.close()
    httpd.shutdown()
    print(f"\n{'page':<20} {'explorers live (ms after navigation)':>37} {'DOMContentLoaded ms':>20} {'specs, gzipped KB':>18}")
    for name, ms, dcl, spec_bytes in live:
        print(f"{name:<20} {ms:>37.0f} {dcl:>20.0f} {spec_bytes / 1024:>18.1f}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
