"""Execute the chapters for the book build, and hand their outputs to it.

``python tools/execute.py run IN OUT``
    Execute one chapter into a copy with its outputs.  Each chapter is a
    step of its own in the Makefile (two run at a time under ``make -j2``).
    The kernel runs in the chapter's folder, as in Jupyter Book, with the
    chapter's own time limit (``execution.timeout`` in its metadata, else
    900 s per cell).  No timing is written into the cells: the execution
    cache matches a chapter by its code cells and their metadata, which must
    stay as in the source; the run time goes to the notebook's metadata.

``python tools/execute.py cache CACHE OUT...``
    Add the executed copies to Jupyter Book's execution cache
    (``execute_notebooks: cache``), with their run times, which the status
    page's table of execution times shows.
"""

import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

SECONDS = "hmmrisk_execution_seconds"


def run(source: str, target: str) -> int:
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
    seconds = time.monotonic() - start
    nb.metadata[SECONDS] = round(seconds, 2)
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    print(f"{source}: executed in {seconds:.1f} s")
    return 0


def cache(folder: str, *executed: str) -> int:
    from jupyter_cache import get_cache

    db = get_cache(folder)
    for path in executed:
        seconds = nbformat.read(path, as_version=4).metadata.get(SECONDS)
        db.cache_notebook_file(path, data={"execution_seconds": seconds},
                               check_validity=False, overwrite=True)
    return 0


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    sys.exit({"run": run, "cache": cache}[command](*args))
