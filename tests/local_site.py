"""The built site on 127.0.0.1 and the Chromium that opens it.

Shared by ``test_browser.py`` (every page) and ``test_explorer.py`` (the risk
explorer): one place for the browser binary, its flags and the HTTP server.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple

import pytest

CHROMIUM = os.environ.get("HMMRISK_CHROMIUM", "/usr/bin/chromium")
# No network here: stop Chromium's own background connections (updates, sync,
# QUIC probes), whose failures would otherwise show up as noise.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


def have_chromium() -> bool:
    return os.access(CHROMIUM, os.X_OK)


def require_chromium() -> None:
    """Fail (not skip) the calling test when there is no browser to run."""
    if not have_chromium():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium "
                    "(apt-get install chromium), or set HMMRISK_CHROMIUM")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output clean
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # the browser may drop a connection it no longer needs (a font, a
        # page it navigated away from); that is no failure of the site
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Served(NamedTuple):
    server: _Server
    thread: threading.Thread
    url: str            # base URL, ending in "/"


def start(html: Path) -> Served:
    """Serve the folder ``html`` on a free port of 127.0.0.1, in a daemon thread."""
    server = _Server(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return Served(server, thread, f"http://127.0.0.1:{server.server_address[1]}/")


def stop(served: Served) -> None:
    served.server.shutdown()
    served.server.server_close()
    served.thread.join(timeout=10)


@contextlib.contextmanager
def serving(html: Path):
    """``with serving(html) as url``: the folder served for the block's duration."""
    served = start(html)
    try:
        yield served.url
    finally:
        stop(served)
