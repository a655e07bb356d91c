"""Atomic file output: every file the package writes is either the old one or the new one.

:func:`atomic_write` opens a temporary file in the destination's folder
(``.NAME.XXXXXX.tmp``, ``NAME`` cut to 100 bytes so that any legal file name
fits), lets the caller write it, flushes and ``fsync``-s it and
then renames it over the destination with :func:`os.replace` (atomic on POSIX
and on Windows within one file system).  If the writer raises, or the process
is killed before the rename, the destination keeps its previous content (a
killed process may leave the hidden temporary file behind, never a partial
destination).  A destination that is a symbolic link is written through it:
its target is replaced atomically and the link stays.

:func:`check_writable` tests, before any computation, that a file can be
created next to the destination, so a command fails in its first
milliseconds rather than after its work.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

__all__ = ["atomic_write", "check_writable"]


def _destination(name: str, path) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file name, got {path!r}")
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not path or not path.strip():
        raise ValueError(f"{name} must be a file name, got {path!r}")
    if "\x00" in path:
        raise ValueError(f"{name} must not contain a NUL character, got {path!r}")
    return path


def _target(name: str, path: str) -> str:
    """The file that will be replaced: ``path``, or the file a symbolic link points to."""
    if not os.path.islink(path):
        return path
    real = os.path.realpath(path)
    if os.path.islink(real):
        raise ValueError(f"{name}: {path!r} is a symbolic link that never reaches a file (a loop?)")
    return real


def _mkstemp(path: str):
    """A temporary file next to ``path``, named ``.NAME.XXXXXX.tmp`` in at most ~120 bytes."""
    base = os.path.basename(path)
    while len(os.fsencode(base)) > 100:
        base = base[:-1]
    return tempfile.mkstemp(prefix="." + base + ".", suffix=".tmp",
                            dir=os.path.dirname(os.path.abspath(path)))


def check_writable(path, name: str = "path") -> str:
    """Return ``path`` after checking that :func:`atomic_write` can replace it.

    Raises ``ValueError`` naming ``name`` if ``path`` is empty, is a folder,
    lies in a folder that does not exist, or if no file can be created in its
    folder (permissions, read-only or pseudo file systems such as ``/proc``).
    A full disk is only found when writing (then the old file survives).
    """
    path = _destination(name, path)
    if os.path.isdir(path):
        raise ValueError(f"{name}: {path!r} is a folder, not a file")
    target = _target(name, path)
    folder = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(folder):
        raise ValueError(f"{name}: folder {folder!r} does not exist")
    if os.path.exists(target) and not os.path.isfile(target):
        raise ValueError(f"{name}: {path!r} exists and is not a regular file")
    try:
        fd, tmp = _mkstemp(target)
    except OSError as exc:
        raise ValueError(f"{name}: cannot create a file in {folder!r} ({exc.strerror})") from None
    os.close(fd)
    os.unlink(tmp)
    return path


@contextlib.contextmanager
def atomic_write(path, mode: str = "w", name: str = "path", **kwargs):
    """Context manager: a file object whose content replaces ``path`` on success only.

    ``mode`` is ``"w"`` (text; ``kwargs`` go to :func:`open`, e.g.
    ``newline=""``, ``encoding="utf-8"``) or ``"wb"``.  Errors of the file
    system (``OSError``: full disk, permissions) become ``ValueError`` naming
    ``name`` and the path; the destination is left untouched.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    path = check_writable(path, name)
    target = _target(name, path)             # through a symbolic link: its target is replaced
    tmp, done = None, False
    try:
        try:
            fd, tmp = _mkstemp(target)
            with os.fdopen(fd, mode, **kwargs) as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            if os.path.exists(target):
                with contextlib.suppress(OSError):
                    os.chmod(tmp, os.stat(target).st_mode & 0o7777)
            else:
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, target)
            done = True
        except OSError as exc:
            raise ValueError(f"{name}: cannot write {path!r} ({exc.strerror or exc})") from None
    finally:
        if not done and tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
