"""The explorers are live: in a real JupyterLab, moving a slider in the page redraws the picture from the kernel.

Starts JupyterLab on 127.0.0.1 with a random port and token on a temporary copy of
tests/fixtures/live_explorers.ipynb, opens it in headless Chromium (Debian's, driven by Playwright), runs
all cells, moves sliders with the keyboard, and checks that the image in the page changed and that the
kernel's explorer now holds and draws what the package computes for the slider's new value.
"""
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import attn_course as ac

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FIXTURE = Path(__file__).parent / "fixtures" / "live_explorers.ipynb"
TIMEOUT_MS = 60_000  # every single wait in the page; a cold kernel start on a small machine takes a few seconds


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """(url, token) of a JupyterLab serving a copy of the fixture notebook; stopped afterwards."""
    root, home = tmp_path / "root", tmp_path / "home"
    root.mkdir()
    home.mkdir()
    shutil.copy(FIXTURE, root / FIXTURE.name)
    port, token = free_port(), secrets.token_hex(16)
    # Every Jupyter directory in the temporary folder: the test leaves no settings or runtime files behind.
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               IPYTHONDIR=str(home / "ipython"), MPLBACKEND="agg", PYTHONHASHSEED="0")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         "--allow-root",  # containers and CI often run as root; the server listens on 127.0.0.1 only
         f"--ServerApp.root_dir={root}", f"--LabApp.user_settings_dir={home / 'settings'}",
         f"--LabApp.workspaces_dir={home / 'workspaces'}", "--LabApp.news_url=", "--LabApp.extension_manager=readonly",  # no PyPI lookups
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=subprocess.DEVNULL, stderr=(log := (home / "server.log").open("w")))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{(home / 'server.log').read_text()[-3000:]}")
                time.sleep(0.3)
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture
def page(browser):
    """A fresh page in the session's Chromium (tests/conftest.py)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


def run_all_cells(page):
    """Run > Run All Cells, again if the first cell did not start (a click can land before the menu is live)."""
    prompt = page.locator(".jp-Notebook .jp-CodeCell").first.locator(".jp-InputPrompt")
    for attempt in range(3):
        page.keyboard.press("Escape")  # close a menu left open by an earlier attempt
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function("el => /\\[[*0-9]+\\]/.test(el.innerText)", arg=prompt.element_handle(),
                                   timeout=15_000)
            return
        except Exception:
            if attempt == 2:
                raise


def kernel_state(page):
    """Re-run the notebook's last cell, which prints what the kernel's explorers hold and draw.

    Waits for a printout that differs from the previous one: the sliders moved since.
    """
    cell = page.locator(".jp-Notebook .jp-CodeCell").nth(2)
    before = cell.locator(".jp-OutputArea-output").inner_text() if cell.locator(".jp-OutputArea-output").count() else ""
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(
        """([before]) => { const out = document.querySelectorAll('.jp-Notebook .jp-CodeCell')[2]
                                      .querySelector('.jp-OutputArea-output');
                           return out && out.innerText.includes('STATE') && out.innerText !== before; }""",
        arg=[before])
    text = cell.locator(".jp-OutputArea-output").inner_text()
    return json.loads(text.split("STATE", 1)[1])


def image_src(explorer):
    return explorer.locator("img").first.get_attribute("src")


def shown_png_sha256(explorer):
    """SHA-256 of the PNG bytes behind the explorer's <img> in the page (a blob: URL made by ipywidgets)."""
    return explorer.locator("img").first.evaluate(
        """async img => { const bytes = await (await fetch(img.src)).arrayBuffer();
                          const digest = await crypto.subtle.digest('SHA-256', bytes);
                          return Array.from(new Uint8Array(digest), b => b.toString(16).padStart(2, '0')).join(''); }""")


def press(page, slider, key, times):
    slider.locator(".noUi-handle").first.focus()
    for _ in range(times):
        page.keyboard.press(key)


def readout(slider):
    """The value shown next to the slider (d3-format writes a Unicode minus sign)."""
    return float(slider.locator(".widget-readout").first.inner_text().replace("\u2212", "-"))


def test_sliders_redraw_live_in_jupyterlab(lab, page, tmp_path):
    try:
        check_sliders_redraw_live(page, *lab)
    except Exception:
        page.screenshot(path=tmp_path / "failure.png")  # what the page showed, for the failure report
        print(f"screenshot: {tmp_path / 'failure.png'}; server log: {tmp_path / 'home' / 'server.log'}")
        raise


def check_sliders_redraw_live(page, url, token):
    page.goto(f"{url}/lab/tree/{FIXTURE.name}?token={token}")
    page.locator(".jp-Notebook .jp-CodeCell").nth(2).wait_for()
    # Run only once the kernel is idle, so that a slow kernel start does not eat into the waits below.
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for()
    run_all_cells(page)

    softmax_box = page.locator(".jp-Notebook .jp-CodeCell").nth(0).locator(".widget-vbox").first
    sum_box = page.locator(".jp-Notebook .jp-CodeCell").nth(1).locator(".widget-vbox").first
    softmax_box.locator("img").first.wait_for()
    sum_box.locator("img").first.wait_for()
    page.locator(".jp-Notebook .jp-CodeCell").nth(2).locator(".jp-OutputArea-output", has_text="STATE").wait_for()

    # Softmax: move the first logit up with the keyboard.
    slider_a = softmax_box.locator(".widget-slider").nth(0)
    src = image_src(softmax_box)
    press(page, slider_a, "ArrowRight", 5)
    page.wait_for_function("([el, src]) => el.src !== src", arg=[softmax_box.locator("img").first.element_handle(), src])
    a = readout(slider_a)
    assert a > 2.0, f"the slider did not move: readout {a}"

    # WeightedSum: turn the query.
    slider_angle = sum_box.locator(".widget-slider").nth(0)
    angle_before = readout(slider_angle)
    src = image_src(sum_box)
    press(page, slider_angle, "ArrowLeft", 20)
    page.wait_for_function("([el, src]) => el.src !== src", arg=[sum_box.locator("img").first.element_handle(), src])
    angle = readout(slider_angle)
    assert angle < angle_before

    # What the kernel drew is what the package computes for the values the page shows.
    state = kernel_state(page)
    assert state["logits"] == pytest.approx([a, 1.0, 0.1])
    np.testing.assert_allclose(state["probs"], ac.softmax(np.array([a, 1.0, 0.1])), rtol=1e-6)
    assert state["angle"] == pytest.approx(angle)
    q = state["length"] * np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
    out, _ = ac.scaled_dot_product_attention(q[None], np.array([[1.0, 0.2], [-0.3, 1.0], [-0.8, -0.6]]),
                                             np.array([[1.5, 0.5], [0.0, 1.6], [-1.4, -0.2]]))
    np.testing.assert_allclose(state["output"], out[0], rtol=1e-6)
    # and the page shows exactly the PNG the kernel made last
    assert [shown_png_sha256(softmax_box), shown_png_sha256(sum_box)] == state["png_sha256"]
