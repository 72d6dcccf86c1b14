"""The package as a codebase: one API across the versions of attention, no private name crossing modules,
and modules that import without what they do not need."""
import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import attn_course
from attn_course import flash

PACKAGE = Path(attn_course.__file__).parent
ROOT = PACKAGE.parent


def parameters(fn):
    """(name, kind) of every parameter: the names and whether they are positional or keyword-only."""
    return [(p.name, p.kind) for p in inspect.signature(fn).parameters.values()]


def test_numpy_and_torch_attention_take_the_same_arguments():
    ann = pytest.importorskip("attn_course.nn")
    assert parameters(attn_course.scaled_dot_product_attention) == parameters(ann.scaled_dot_product_attention)


def test_tiled_and_triton_attention_take_the_same_arguments():
    ta = pytest.importorskip("attn_course.triton_attention")  # imports even without Triton
    assert parameters(flash.tiled_attention) == parameters(ta.flash_attention)
    # and they name what they share with plain attention as it does
    plain = dict(parameters(attn_course.scaled_dot_product_attention))
    shared = {name: kind for name, kind in parameters(flash.tiled_attention) if name in plain}
    assert shared == {name: plain[name] for name in ("q", "k", "v", "causal", "scale")}


def private_imports(path):
    """`from .x import _name` and `x._name` where x is a module of the package imported by this file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found, modules = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            local = node.level > 0 or (node.module or "").startswith("attn_course")
            for alias in node.names:
                if local and alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"line {node.lineno}: from {'.' * node.level}{node.module or ''} import {alias.name}")
                if local:
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("attn_course"):
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_no_private_name_crosses_modules():
    offences = {str(p.relative_to(ROOT)): private_imports(p) for p in sorted(PACKAGE.rglob("*.py"))}
    offences = {path: found for path, found in offences.items() if found}
    assert not offences, f"private names used outside their module: {offences}"


def test_the_private_import_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from .data import _count\nfrom . import widgets\nwidgets._Explorer\n")
    assert private_imports(bad) == ["line 1: from .data import _count", "line 3: widgets._Explorer"]


def run_without(blocked, code):
    """Run `code` in a fresh Python in which importing any of `blocked` fails."""
    guard = ("import sys\n"
             "class Block:\n"
             "    def find_spec(self, name, path=None, target=None):\n"
             f"        if name.split('.')[0] in {blocked!r}:\n"
             "            raise ImportError(f'{name} is blocked for this test')\n"
             "sys.meta_path.insert(0, Block())\n")
    return subprocess.run([sys.executable, "-c", guard + code], capture_output=True, text=True, cwd=ROOT)


def test_the_transformer_imports_without_ipywidgets():
    pytest.importorskip("torch")
    done = run_without(["ipywidgets"], "from attn_course import transformer, models, training, evaluation\n"
                                       "transformer.GPT(11, d_model=16, n_heads=2)\nprint('ok')")
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    refused = run_without(["ipywidgets"], "from attn_course import widgets")
    assert refused.returncode != 0 and "ipywidgets is blocked" in refused.stderr  # the guard works


def test_the_readout_imports_without_torch():
    done = run_without(["torch"], "from attn_course import readout\nimport numpy as np\n"
                                  "print(readout.attention_rollout(np.ones((2, 1, 3, 3)) / 3).shape)")
    assert done.returncode == 0 and done.stdout.strip() == "(3, 3)", done.stderr
