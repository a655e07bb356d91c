"""The lock file is the resolution of the top-level pins (``make lock``).

``requirements.txt`` is edited by hand; ``requirements-lock.txt`` is what
``make`` and CI install.  Each top-level pin must be in the lock at the same
version (a pin edited without ``make lock`` fails here), every line of the
lock is an exact pin, and no CUDA package slipped in with torch.
"""

import re
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip().removesuffix("\\").strip()  # uv: "name==version \\"
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", f"{path.name}: {line!r} is not an exact pin"
        pins[canonicalize_name(req.name)] = spec.version
    return pins


def test_every_package_of_the_lock_has_its_hashes():
    """``make`` installs with ``--require-hashes``: a pin without a hash would stop it."""
    text = (ROOT / "requirements-lock.txt").read_text()
    entries = re.findall(r"^([A-Za-z0-9][^ \n]*==[^ \n]+)(.*?)(?=^[A-Za-z0-9]|\Z)", text, re.M | re.S)
    assert len(entries) == len(_pins(ROOT / "requirements-lock.txt"))
    unhashed = [pin for pin, rest in entries if "--hash=sha256:" not in rest]
    assert not unhashed, f"pins without a hash: {unhashed}"


def test_lock_pins_every_top_level_requirement_at_its_version():
    top, lock = _pins(ROOT / "requirements.txt"), _pins(ROOT / "requirements-lock.txt")
    wrong = {name: (version, lock.get(name)) for name, version in top.items()
             if name not in lock or Version(lock[name]).public != Version(version).public}
    assert not wrong, f"requirements.txt and the lock disagree (run `make lock`): {wrong}"
    assert len(lock) > 2 * len(top), "the lock should hold the transitive packages too"


def test_lock_has_the_cpu_torch_and_no_cuda_stack():
    lock = _pins(ROOT / "requirements-lock.txt")
    assert Version(lock["torch"]).local == "cpu", lock["torch"]
    cuda = sorted(name for name in lock if re.match(r"nvidia-|triton$", name))
    assert not cuda, f"CUDA packages in the lock: {cuda}"
