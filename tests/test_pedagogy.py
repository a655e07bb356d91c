"""Every numbered chapter teaches as the best executable books do (issue 27, item 2).

Read from the chapters' sources (no build): each chapter of a numbered part
of ``_toc.yml`` opens with a "What you will learn" box and has a Summary;
each but the Context part's has at least two exercises, each exercise has a
solution, and a solution with code keeps it inside the gated form
(``solution-start`` ... ``solution-end``), so that the build executes it,
and checks it with an ``assert``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _numbered() -> list[tuple[str, str]]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [(part["caption"], ch["file"]) for part in toc["parts"] if part.get("numbered")
            for ch in part["chapters"]]


NUMBERED = _numbered()


def _cells(stem: str) -> list[tuple[str, str]]:
    """(cell type, source) of the chapter, in order."""
    nb = json.loads((ROOT / f"{stem}.ipynb").read_text())
    return [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]]


def test_the_numbered_parts_are_the_ones_the_issue_names():
    assert {caption for caption, _ in NUMBERED} == {
        "Context", "The model", "The risk curve", "Beyond the paper", "A real architecture"}
    assert len(NUMBERED) == 14


@pytest.mark.parametrize("part, stem", NUMBERED, ids=[s for _, s in NUMBERED])
def test_chapter_opens_with_what_you_will_learn_and_has_a_summary(part, stem):
    text = "\n".join(src for kind, src in _cells(stem) if kind == "markdown")
    learn = text.find("{admonition} What you will learn")
    assert learn >= 0, f"{stem}: no 'What you will learn' box"
    first_section = text.find("\n## ")
    assert first_section < 0 or learn < first_section, f"{stem}: the box comes after a section"
    assert re.search(r"^## Summary\s*$", text, re.M), f"{stem}: no '## Summary'"


@pytest.mark.parametrize("part, stem", [(p, s) for p, s in NUMBERED if p != "Context"],
                         ids=[s for p, s in NUMBERED if p != "Context"])
def test_chapter_has_two_exercises_with_checked_solutions(part, stem):
    cells = _cells(stem)
    text = "\n".join(src for _, src in cells)
    labels = re.findall(r"\{exercise\}\s*\n:label: (\S+)", text)
    assert len(labels) >= 2, f"{stem}: {len(labels)} exercises"
    for label in labels:
        plain = re.search(r"\{solution\} " + re.escape(label) + r"\b", text)
        gated = [i for i, (_, src) in enumerate(cells)
                 if re.search(r"\{solution-start\} " + re.escape(label) + r"\b", src)]
        assert plain or gated, f"{stem}: {label} has no solution"
        if gated:
            start = gated[0]
            head = cells[start][1].split("{solution-start} " + label, 1)[1]
            end = start if "{solution-end}" in head else \
                next(i for i in range(start + 1, len(cells)) if "{solution-end}" in cells[i][1])
            code = [src for kind, src in cells[start:end + 1] if kind == "code"]
            assert code and any("assert" in src for src in code), \
                f"{stem}: the solution of {label} runs no checked code"
