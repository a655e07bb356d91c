"""The package as a product: its metadata, its version and the README, tried as a user would.

Fast, static checks:

* every third-party package that a module of ``hmmrisk/``, ``tests/``,
  ``tools/``, ``bench/`` or a chapter imports is declared in
  ``pyproject.toml`` (the core list, or the extra that scope may use), and
  every core dependency is used by the package;
* the lock's versions satisfy every requirement of ``pyproject.toml``, and
  Binder's pins (``binder/requirements.txt``) are the lock's;
* one version (``pyproject.toml``), one repository address (``_config.yml``).

Slow (``slow``): the wheel is built from a copy of the sources,
installed into a fresh virtual environment with its core dependencies only
(at the lock's versions), and every Python block and every ``hmmrisk`` /
``python -m hmmrisk`` line of ``README.md`` is run there.  A snippet that
needs an extra (``figure 3``: PyTorch; the Dask block: distributed) must
fail there with the one-line message naming the extra (command lines), and
is run in this test environment, which has every extra, instead.
"""

import ast
import importlib.metadata
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import numpy as np
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
VERSION = PROJECT["version"]
README = ROOT / "README.md"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())

#: Import name of an optional dependency -> the extra of pyproject.toml that installs it.
EXTRA_OF = {"torch": "transformer", "distributed": "dask"}


# ---------------------------------------------------------------------------
# Declared dependencies
# ---------------------------------------------------------------------------

def _requirements(extras=()):
    """The core requirements plus those of ``extras`` (``hmmrisk[...]`` expanded)."""
    reqs, todo, seen = [Requirement(r) for r in PROJECT["dependencies"]], list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for req in map(Requirement, PROJECT["optional-dependencies"][extra]):
            if canonicalize_name(req.name) == "hmmrisk":
                todo.extend(req.extras)
            else:
                reqs.append(req)
    return reqs


def _top_imports(source: str) -> set[str]:
    """Top-level names of the absolute imports anywhere in ``source``."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(a.name.partition(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.partition(".")[0])
    return names


def _notebook_source(path: Path) -> str:
    """The code cells of a notebook as Python (IPython's ``%`` / ``!`` lines as ``pass``)."""
    lines = []
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "code":
            for line in "".join(cell["source"]).splitlines():
                body = line.lstrip()
                lines.append(line[:len(line) - len(body)] + "pass" if body[:1] in "%!" and body
                             else line)
    return "\n".join(lines)


def _scopes():
    """``(scope, extras it may use, {file: source})`` for every part of the repository."""
    pkg = sorted((ROOT / "hmmrisk").rglob("*.py"))
    torch_part = ROOT / "hmmrisk" / "transformer"
    yield "hmmrisk", (), {p: p.read_text() for p in pkg if torch_part not in p.parents}
    yield "hmmrisk.transformer", ("transformer",), {p: p.read_text() for p in pkg
                                                    if torch_part in p.parents}
    for folder, extras in (("bench", ("transformer",)), ("tools", ("book",)), ("tests", ("test",))):
        yield folder, extras, {p: p.read_text() for p in sorted((ROOT / folder).glob("*.py"))}
    yield "chapters", ("book",), {p: _notebook_source(p)
                                  for p in sorted((ROOT / "chapters").glob("*.ipynb"))}


def _local_modules() -> set[str]:
    return {"hmmrisk"} | {p.stem for folder in ("tests", "tools", "bench")
                          for p in (ROOT / folder).glob("*.py")}


def test_every_imported_package_is_declared():
    dists = importlib.metadata.packages_distributions()
    local, undeclared = _local_modules(), []
    for scope, extras, files in _scopes():
        declared = {canonicalize_name(r.name) for r in _requirements(extras)}
        for path, source in files.items():
            for name in sorted(_top_imports(source) - set(sys.stdlib_module_names) - local):
                provided = {canonicalize_name(d) for d in dists.get(name, ())}
                if not provided & declared:
                    undeclared.append(f"{path.relative_to(ROOT)} imports {name} "
                                      f"({', '.join(sorted(provided)) or 'not installed here'}), "
                                      f"not declared for {scope} (core + {list(extras)})")
    assert not undeclared, "\n".join(undeclared)


def test_every_core_dependency_is_imported_by_the_package():
    dists = importlib.metadata.packages_distributions()
    scope, _, files = next(_scopes())
    used = {canonicalize_name(d) for src in files.values() for name in _top_imports(src)
            for d in dists.get(name, ())}
    unused = [r.name for r in _requirements() if canonicalize_name(r.name) not in used]
    assert not unused, f"core dependencies no module of {scope} imports: {unused}"


def test_core_is_free_of_optional_packages():
    """``import hmmrisk`` and its non-torch modules must not need an extra."""
    _, _, files = next(_scopes())
    found = {f"{p.relative_to(ROOT)}: {name}" for p, src in files.items()
             for name in _top_imports(src) & set(EXTRA_OF)}
    assert not found, found


def _lock() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements-lock.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip().removesuffix("\\").strip()   # "name==version \\"
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = Version(version)
    return pins


def test_the_lock_satisfies_every_declared_requirement():
    lock = _lock()
    bad = [f"{req} (lock: {lock.get(canonicalize_name(req.name), 'absent')})"
           for req in _requirements(PROJECT["optional-dependencies"])
           if canonicalize_name(req.name) not in lock
           or not req.specifier.contains(lock[canonicalize_name(req.name)], prereleases=True)]
    assert not bad, f"pyproject.toml and requirements-lock.txt disagree: {bad}"


def test_binder_pins_are_the_lock_and_cover_the_chapters():
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    lock, pins, local = _lock(), {}, False
    lines = [line.split("#", 1)[0].strip()
             for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()]
    # the lock constrains what the pins pull in (a path relative to binder/)
    assert "-c ../requirements-lock.txt" in lines
    for line in lines:
        if not line or line.startswith("-"):
            continue
        if line == ".":
            local = True                                   # the book's own package
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", f"binder: {line!r} is not an exact pin"
        name = canonicalize_name(req.name)
        assert name in lock and Version(spec.version).public == lock[name].public, \
            f"binder: {line!r}, the lock has {lock.get(name)}"
        pins[name] = spec.version
    assert local, "binder/requirements.txt does not install the book's package (.)"
    dists = importlib.metadata.packages_distributions()
    needed = {canonicalize_name(d) for name in
              _top_imports("\n".join(_notebook_source(p) for p in (ROOT / "chapters").glob("*.ipynb")))
              - set(sys.stdlib_module_names) - _local_modules() for d in dists.get(name, ())}
    core = {canonicalize_name(r.name) for r in _requirements()}
    assert needed - core <= set(pins), f"the chapters import {sorted(needed - core - set(pins))}"


# ---------------------------------------------------------------------------
# One version, one repository address
# ---------------------------------------------------------------------------

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


def test_repository_address_is_one_setting():
    """_config.yml's ``repository.url`` is the only address: every other file repeats it."""
    url = CONFIG["repository"]["url"]
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url), url
    files = [ROOT / n for n in ("CITATION.cff", "pyproject.toml", "README.md")]
    files += sorted((ROOT / "chapters").glob("*.ipynb")) + sorted((ROOT / "chapters").glob("*.md"))
    seen, other = 0, []
    for path in files:
        for found in re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", path.read_text()):
            seen += 1
            if found.removesuffix(".git") != url:
                other.append(f"{path.relative_to(ROOT)}: {found}")
    assert not other, f"repository addresses other than _config.yml's {url}: {other}"
    assert PROJECT["urls"]["Repository"] == url
    cells = [p for p in (ROOT / "chapters").glob("*.ipynb") if f"git+{url}" not in p.read_text()]
    assert not cells, f"chapters without the install cell for {url}: {cells}"
    assert seen > len(files) // 2


def test_licence_title_and_authors_agree():
    """The package's licence is LICENSE's; CITATION.cff names the book and authors as the site does."""
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    assert "MIT" in cff["license"]              # the code; the text is CC-BY-4.0 (chapters/cite.md)
    assert cff["title"] == CONFIG["title"]
    assert [a["name"] for a in cff["authors"]] == [a["name"] for a in PROJECT["authors"]] \
        == [CONFIG["author"]]
    assert cff["repository-code"] == CONFIG["repository"]["url"]


# ---------------------------------------------------------------------------
# A missing extra at the command line
# ---------------------------------------------------------------------------

# the command line as run in an environment without torch (None in sys.modules: import fails)
WITHOUT_TORCH = ("import sys; sys.modules['torch'] = None; from hmmrisk.cli import main; "
                 "sys.exit(main(sys.argv[1:]))")
NEEDS_TORCH = ("hmmrisk figure: error: needs PyTorch, which is not installed; "
               "install it with pip install 'hmmrisk[transformer]'\n")


def test_figure3_without_torch_is_one_line_naming_the_extra(tmp_path):
    out = tmp_path / "fig3.png"
    run = subprocess.run([sys.executable, "-c", WITHOUT_TORCH, "figure", "3", "--out", str(out)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert run.stdout == ""
    assert run.stderr == NEEDS_TORCH
    assert not out.exists()
    assert "transformer" in PROJECT["optional-dependencies"]


# ---------------------------------------------------------------------------
# The README, run in a clean installation
# ---------------------------------------------------------------------------

def _readme_snippets():
    """``(id, kind, code, extra)``: each Python block and each hmmrisk command line."""
    out = []
    for lang, body in re.findall(r"^```(\w+)\n(.*?)^```", README.read_text(), re.M | re.S):
        if lang == "python":
            extras = sorted({EXTRA_OF[n] for n in _top_imports(body) if n in EXTRA_OF})
            out.append((f"python-{len(out)}", "python", body, extras[0] if extras else None))
        elif lang in ("bash", "sh", "console"):
            for line in body.replace("\\\n", " ").splitlines():
                words = shlex.split(line, comments=True)
                if words[:1] == ["hmmrisk"] or words[:3] == ["python", "-m", "hmmrisk"]:
                    args = words[1:] if words[0] == "hmmrisk" else words[3:]
                    extra = "transformer" if args[:2] == ["figure", "3"] else None
                    out.append((f"cli-{len(out)}-{'-'.join(args[:2])}", "cli", words, extra))
    return out


SNIPPETS = _readme_snippets()


def test_readme_shows_the_package():
    assert len(README.read_text().splitlines()) <= 150, "the README is a front page, not a manual"
    kinds = [(kind, code[0]) if kind == "cli" else (kind, None) for _, kind, code, _ in SNIPPETS]
    assert ("cli", "hmmrisk") in kinds and ("cli", "python") in kinds and ("python", None) in kinds
    assert any(extra == "dask" for *_, extra in SNIPPETS)
    assert any(extra == "transformer" for *_, extra in SNIPPETS)


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
# the run-time imports: the sweep's progress bar (tqdm), the LAPACK route of the risk (SciPy)
from hmmrisk.sweep import sweep
assert len(sweep(dict(n=10, p=5, d=3, noise=0.5), progress=True)) == 1
import hmmrisk as hr
hr.simulate_risk(hr.make_model(p=60, d=5, noise=0.5, rng=0), n=20, reps=4, rng=0)
# package data: the style file every figure is drawn with
from hmmrisk import plotting
assert plotting.STYLE_FILE.is_file() and plotting.COLORS, plotting.STYLE_FILE
with plotting.style():
    plotting.new_figure().savefig(__import__("io").BytesIO(), format="png")
for absent in ("torch", "distributed"):
    assert importlib.util.find_spec(absent) is None, absent   # not installed with the core
print(len(names) - len(torch_only), "modules imported; torch-only:", ",".join(torch_only))
"""


def _clean_env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv with the wheel of this tree and its core dependencies at the lock's versions."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"        # a copy of what the wheel is built from: nothing left in the tree
    shutil.copytree(ROOT / "hmmrisk", src / "hmmrisk",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    env = _clean_env()
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                            "--wheel-dir", str(tmp / "dist"), str(src)],
                           capture_output=True, text=True, env=env, cwd=tmp)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("hmmrisk-*.whl")
    assert wheel.name == f"hmmrisk-{VERSION}-py3-none-any.whl"
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False, clear=True).create(env_dir)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    # uv (as `make` installs) puts the wheel into the new environment with the lock as
    # constraints: the declared dependencies at the tested versions, and nothing else
    # (a constraint installs nothing by itself); tools/uv_env.sh gives uv pip's sources
    uv = Path(sys.executable).with_name("uv")
    inst = subprocess.run(["sh", "-c", '. "$0" && exec "$1" pip install --quiet --python "$2" '
                           '"$3" --constraint "$4"', str(ROOT / "tools" / "uv_env.sh"), str(uv),
                           str(bin_dir / "python"), str(wheel), str(ROOT / "requirements-lock.txt")],
                          capture_output=True, text=True, env=env, cwd=tmp)
    assert inst.returncode == 0, inst.stderr[-3000:]
    return bin_dir


def _run(cmd, cwd, env=None, timeout=300):
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env=_clean_env() if env is None else env)


@pytest.mark.slow
def test_clean_install_imports_every_module(installed, tmp_path):
    run = _run([str(installed / "python"), "-c", IMPORT_ALL], tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "modules imported" in run.stdout
    version = _run([str(installed / "hmmrisk"), "--version"], tmp_path)
    assert version.stdout == f"hmmrisk {VERSION}\n", version.stderr


METADATA = """
import importlib.metadata as md, json
meta = md.metadata("hmmrisk")
print(json.dumps({"license": meta["License-Expression"], "urls": meta.get_all("Project-URL"),
                  "classifiers": meta.get_all("Classifier"), "summary": meta["Summary"],
                  "readme": meta["Description-Content-Type"],
                  "files": [str(f) for f in md.files("hmmrisk")]}))
"""


@pytest.mark.slow
def test_the_installed_metadata_is_a_published_packages(installed, tmp_path):
    """What an index would show: licence expression, project URLs, classifiers, the
    README as description, and py.typed installed (the annotations are public)."""
    run = _run([str(installed / "python"), "-c", METADATA], tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    meta = json.loads(run.stdout)
    assert meta["license"] == PROJECT["license"]
    assert sorted(u.split(",")[0] for u in meta["urls"]) == sorted(PROJECT["urls"])
    assert "Typing :: Typed" in meta["classifiers"] and meta["summary"]
    assert meta["readme"].startswith("text/markdown")
    assert "hmmrisk/py.typed" in meta["files"]


def _workdir(path: Path) -> Path:
    """Inputs the README's commands read: features X (500 x 20) and targets Y (500 x 3)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 20))
    np.save(path / "X.npy", x)
    np.save(path / "Y.npy", x @ rng.standard_normal((20, 3)) + 0.5 * rng.standard_normal((500, 3)))
    return path


def _split(words):
    """``hmmrisk ARGS`` / ``python -m hmmrisk ARGS`` -> (the launcher's words, ARGS)."""
    n = 1 if words[0] == "hmmrisk" else 3
    return words[:n], words[n:]


@pytest.mark.slow
@pytest.mark.parametrize("kind,code,extra", [s[1:] for s in SNIPPETS], ids=[s[0] for s in SNIPPETS])
def test_readme_runs_in_a_clean_install(installed, tmp_path, kind, code, extra):
    cwd = _workdir(tmp_path)
    if kind == "cli":
        launcher, args = _split(code)
        head = ([str(installed / "hmmrisk")] if launcher == ["hmmrisk"]
                else [str(installed / "python"), "-m", "hmmrisk"])
        run = _run(head + args, cwd)
        if extra is None:
            assert run.returncode == 0, run.stderr[-3000:]
            return
        # without its extra: one line naming it, exit 2
        assert (run.returncode, run.stderr) == (2, NEEDS_TORCH), run.stderr[-3000:]
    else:
        run = _run([str(installed / "python"), "-c", code], cwd)
        if extra is None:
            assert run.returncode == 0, run.stderr[-3000:]
            return
        assert run.returncode != 0 and "ModuleNotFoundError" in run.stderr, run.stderr[-3000:]
    # with its extra: this test environment (every extra installed), this tree's hmmrisk
    module = next(m for m, e in EXTRA_OF.items() if e == extra)
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"the [{extra}] extra ({module}) is not installed here")
    env = dict(_clean_env(), PYTHONPATH=str(ROOT))
    if kind == "cli":
        cmd = [sys.executable, "-m", "hmmrisk"] + _split(code)[1]
    else:
        cmd = [sys.executable, "-c", code]
    run = _run(cmd, cwd, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
