"""The whole book builds from scratch with warnings as errors (-n -W --keep-going).

This executes every chapter again inside Jupyter Book and fails on a failing
cell, a broken reference, a missing glue key or a bad citation.  It builds
into a temporary folder so the reader's ``_build`` is left alone.
"""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_book_builds_clean_with_warnings_as_errors(tmp_path):
    jb = Path(sys.executable).with_name("jupyter-book")
    assert jb.exists(), f"jupyter-book not installed next to {sys.executable}"
    proc = subprocess.run([str(jb), "build", str(ROOT), "--path-output", str(tmp_path),
                           "-n", "-W", "--keep-going"],
                          capture_output=True, text=True, cwd=ROOT)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-6000:]
    html = tmp_path / "_build" / "html"
    assert (html / "index.html").exists()
    # every chapter rendered its statements, numbered as in the paper, and its
    # computed figures (an <img> each; a figure that failed shows as text)
    pages = {"head_tuning": (["Lemma 1"], 1), "model": (["Lemma 2"], 1),
             "theorem1": (["Theorem 1"], 0),
             "overparameterised": (["Definition 1", "Definition 2", "Theorem 2"], 0),
             "double_descent": (["Definition 3", "Theorem 3"], 2), "transformer": ([], 4)}
    for page, (statements, figures) in pages.items():
        text = (html / "chapters" / f"{page}.html").read_text()
        assert text.count("<img") >= figures, page
        assert "&lt;Figure size" not in text, page
        for statement in statements:
            assert f'caption-number">{statement} <' in text, (page, statement)
    shutil.rmtree(tmp_path / "_build" / ".jupyter_cache", ignore_errors=True)
