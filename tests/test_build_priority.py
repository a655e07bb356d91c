"""The build's kernels in ``make test`` run at a higher CPU priority (``conftest._priority_profile``)."""

import os
from pathlib import Path

import pytest

from conftest import BUILD_KERNEL_NICE, _priority_profile

AUTOGROUP = Path("/proc/self/autogroup")


@pytest.mark.skipif(not AUTOGROUP.exists(), reason="no autogroup scheduling on this system")
def test_a_kernel_started_with_the_profile_runs_at_the_build_priority(tmp_path, monkeypatch):
    """A kernel started as the build starts its kernels (own session, the
    build's IPYTHONDIR) has the autogroup niceness ``BUILD_KERNEL_NICE`` as
    root, and 0 otherwise; it prints nothing (outputs unchanged), and this
    process's own session keeps its niceness."""
    from jupyter_client.manager import start_new_kernel

    own = AUTOGROUP.read_text()
    monkeypatch.setenv("IPYTHONDIR", str(_priority_profile(tmp_path / ".ipython")))
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        out = []
        kc.execute_interactive("import os; print(os.getsid(0) == os.getpid(), "
                               "open('/proc/self/autogroup').read().split()[-1])",
                               output_hook=lambda msg: out.append(msg), timeout=60)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    printed = "".join(m["content"].get("text", "") for m in out if m["msg_type"] == "stream")
    expected = BUILD_KERNEL_NICE if os.geteuid() == 0 else 0
    assert printed == f"True {expected}\n", printed
    assert AUTOGROUP.read_text() == own
