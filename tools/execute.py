"""Execute one chapter into a copy with its outputs: ``python tools/execute.py IN OUT``.

Each chapter is a step of its own in the Makefile (two run at a time under
``make -j2``); the book build takes the outputs from its execution cache, to
which these copies are added (``jcache cache add``).  The kernel runs in the
chapter's folder, as in Jupyter Book, with the chapter's own time limit
(``execution.timeout`` in its metadata, else 900 s per cell).  No timing is
written into the cells: the cache matches a chapter by its code cells and
their metadata, which must stay as in the source.
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def main(source: str, target: str) -> int:
    nb = nbformat.read(source, as_version=4)
    timeout = nb.metadata.get("execution", {}).get("timeout", 900)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(Path(source).parent)}})
    start = time.monotonic()
    try:
        client.execute()
    except CellExecutionError as error:
        print(f"{source}: a cell failed:\n{error}", file=sys.stderr)
        return 1
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    print(f"{source}: executed in {time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
