"""The package installs from its own metadata: no undeclared runtime dependency.

``pip install .`` into a fresh virtual environment (no requirements file, no
editable install, dependencies resolved from ``pyproject.toml`` alone), then
every module that does not need torch is imported and ``python -m hmmrisk
--help`` runs.  A module importing a package that ``pyproject.toml`` does not
declare fails here, and so does a run-time import (a tiny sweep with its tqdm
progress bar runs too).  Slow (about ten
seconds: it installs numpy, SciPy and matplotlib), so marked ``slow``.
"""

import os
import re
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]


def test_version_is_defined_once():
    """pyproject's ``version`` is the package's, the command line's and the citation's."""
    import hmmrisk
    from hmmrisk import cli

    assert hmmrisk.__version__ == VERSION
    cff = re.search(r'^version:\s*"?([^"\n]+)"?\s*$', (ROOT / "CITATION.cff").read_text(), re.M)
    assert cff and cff.group(1) == VERSION, "CITATION.cff's version differs from pyproject.toml's"
    src = [p for p in (ROOT / "hmmrisk").rglob("*.py")
           if re.search(r"^__version__\s*=\s*['\"]", p.read_text(), re.M)]
    assert not src, f"a version string written in the package: {src}"
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0


def test_version_flag_prints_name_and_version():
    out = subprocess.run([sys.executable, "-m", "hmmrisk", "--version"], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"hmmrisk {VERSION}\n"

# the command line as run in an environment without torch (None in sys.modules: import fails)
WITHOUT_TORCH = ("import sys; sys.modules['torch'] = None; from hmmrisk.cli import main; "
                 "sys.exit(main(sys.argv[1:]))")


def test_figure3_without_torch_is_one_line_naming_the_extra(tmp_path):
    out = tmp_path / "fig3.png"
    run = subprocess.run([sys.executable, "-c", WITHOUT_TORCH, "figure", "3", "--out", str(out)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert run.stdout == ""
    assert run.stderr == ("hmmrisk figure: error: needs PyTorch, which is not installed; "
                          "install it with pip install 'hmmrisk[transformer]'\n")
    assert not out.exists()
    assert "transformer" in PYPROJECT["project"]["optional-dependencies"]


# lists the installed package's modules and imports each one not needing torch
IMPORT_ALL = r"""
import importlib, pkgutil, re, sys
import hmmrisk
assert "site-packages" in hmmrisk.__file__, hmmrisk.__file__
# hmmrisk.transformer is the torch-only subpackage (the [transformer] extra):
# walking into it would import torch, so it is listed but not entered
names = [m.name for m in pkgutil.walk_packages(hmmrisk.__path__, "hmmrisk.",
                                               onerror=lambda name: None)
         if not m.name.startswith("hmmrisk.transformer.")]
torch_only = [n for n in names if n == "hmmrisk.transformer"
              or re.search(r"^\s*(import|from) torch", open(importlib.util.find_spec(n).origin).read(), re.M)]
for name in names:
    if name not in torch_only:
        importlib.import_module(name)
# optional-at-import but run-time dependencies: the sweep's progress bar needs tqdm
from hmmrisk.sweep import sweep
assert len(sweep(dict(n=10, p=5, d=3, noise=0.5), progress=True)) == 1
# package data: the style file every figure is drawn with
from hmmrisk import plotting
assert plotting.STYLE_FILE.is_file() and plotting.COLORS, plotting.STYLE_FILE
with plotting.style():
    plotting.new_figure().savefig(__import__("io").BytesIO(), format="png")
print(len(names) - len(torch_only), "modules imported; torch-only:", ",".join(torch_only))
"""


@pytest.mark.slow
def test_clean_install_imports_every_module(tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, clear=True).create(env_dir)
    py = env_dir / ("Scripts" if os.name == "nt" else "bin") / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # a copy of what the package is built from, so the build leaves nothing in the tree
    src = tmp_path / "src"
    shutil.copytree(ROOT / "hmmrisk", src / "hmmrisk",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    # this environment's pip installs into the new one (--python): no pip bootstrapped
    # there; --no-compile: modules are byte-compiled when imported, not all at install
    inst = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet",
                           "--no-compile", str(src)],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert inst.returncode == 0, inst.stderr[-3000:]
    run = subprocess.run([str(py), "-c", IMPORT_ALL], capture_output=True, text=True, env=env,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "modules imported" in run.stdout
    cli = subprocess.run([str(py), "-m", "hmmrisk", "--help"], capture_output=True, text=True,
                         env=env, cwd=tmp_path)
    assert cli.returncode == 0, cli.stderr[-3000:]
    assert "usage" in cli.stdout.lower()

