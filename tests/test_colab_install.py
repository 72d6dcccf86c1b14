"""Install the package as Colab would, outside the repository, and run every chapter there.

Colab has PyTorch, NumPy, matplotlib, ipywidgets and scikit-learn already, and a chapter's first cell
runs `pip install git+<repository>`. Here: a wheel of this repository is built, a fresh virtual
environment outside the repository gets the "preinstalled" packages (the versions of requirements.txt),
the wheel is installed into it, and every chapter, copied out of the repository, runs top to bottom in
that environment. This proves that
- installing the package changes nothing that was there (torch above all): pip freeze before and after
  differ by attn-course alone;
- the wheel ships everything the chapters load (weights, data), since the repository is not on the path;
- the first cell of every chapter does nothing where the package is installed.
It takes a few minutes (the environment is made anew each run).
"""
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # builds a wheel and a fresh environment with torch: minutes

ROOT = Path(__file__).resolve().parents[1]
PREINSTALLED = ["torch", "numpy", "matplotlib", "ipywidgets", "scikit-learn", "ipykernel", "nbclient", "nbformat"]

RUNNER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    import nbformat
    from nbclient import NotebookClient
    import attn_course
    print("attn_course from", attn_course.__file__, flush=True)
    for path in sorted(Path(sys.argv[1]).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
        print(f"{path.name}: ran in {time.perf_counter() - start:.1f} s", flush=True)
""")


def pins():
    """name -> 'name==version' for the preinstalled packages, from requirements.txt."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    found = {}
    for line in lines:
        m = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if m and m.group(1).lower().replace("_", "-") in PREINSTALLED:
            found[m.group(1).lower().replace("_", "-")] = line.strip()
    assert set(found) == set(PREINSTALLED), f"requirements.txt lacks pins for {set(PREINSTALLED) - set(found)}"
    return list(found.values())


def run(*args, **kwargs):
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def freeze(python):
    return set(run(python, "-m", "pip", "freeze", "--all").splitlines())


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    """A fresh environment outside the repository with Colab's preinstalled stack and the wheel installed."""
    base = tmp_path_factory.mktemp("colab")
    source, dist = base / "source", base / "dist"  # built from a copy: no build/ or egg-info left in the repository
    shutil.copytree(ROOT / "attn_course", source / "attn_course", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    # as `make dist` builds the release: an sdist and a wheel, which twine must accept
    run(sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", dist, source)
    run(sys.executable, "-m", "twine", "check", "--strict", *sorted(dist.iterdir()))
    wheel = next(dist.glob("attn_course-*.whl"))
    env_dir = base / "env"
    run(sys.executable, "-m", "venv", env_dir)  # venv builds on the base interpreter, not on this environment
    python = env_dir / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", *pins())
    before = freeze(python)
    run(python, "-m", "pip", "install", "-q", wheel)
    return python, wheel, before, freeze(python), base


def test_release_is_the_version_every_chapter_installs(colab):
    import attn_course

    _, wheel, *_ = colab
    assert wheel.name.startswith(f"attn_course-{attn_course.__version__}-")
    assert (wheel.parent / f"attn_course-{attn_course.__version__}.tar.gz").exists()


def test_wheel_ships_weights_and_modules(colab):
    import zipfile

    _, wheel, *_ = colab
    shipped = set(zipfile.ZipFile(wheel).namelist())
    for f in (ROOT / "attn_course").rglob("*"):
        if f.is_file() and "__pycache__" not in f.parts:
            assert f.relative_to(ROOT).as_posix() in shipped, f"{f.relative_to(ROOT)} is not in the wheel"


def test_installing_changes_nothing_but_adds_attn_course(colab):
    _, _, before, after, _ = colab
    added, removed = after - before, before - after
    assert not removed, f"installing attn_course replaced or removed: {sorted(removed)}"
    names = [re.match(r"[A-Za-z0-9_.-]+", a).group(0).lower().replace("_", "-") for a in added]  # "x==1" or "x @ file:..."
    assert names == ["attn-course"], f"installing attn_course also added {sorted(added)}"
    assert any(p.startswith("torch==") for p in after), "torch vanished"


def test_every_chapter_runs_from_the_installed_package(colab):
    python, _, _, _, base = colab
    work = base / "notebooks"
    shutil.copytree(ROOT / "notebooks", work, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (base / "runner.py").write_text(RUNNER)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PYTHONHASHSEED="0", CUDA_VISIBLE_DEVICES="", MPLBACKEND="module://matplotlib_inline.backend_inline",
               JUPYTER_PLATFORM_DIRS="1")
    out = run(python, base / "runner.py", work, cwd=base, env=env)
    print(out)
    assert "attn_course from " + str(base / "env") in out, f"the chapters did not use the installed package:\n{out}"
    ran = re.findall(r"^(\S+\.ipynb): ran", out, flags=re.M)
    assert ran == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
