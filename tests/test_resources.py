"""The resource caps reach the library as arguments (a context, worker initargs), not the environment."""

import math
from concurrent.futures import ProcessPoolExecutor

import pytest

from hmmrisk import _resources, cli


def test_limits_apply_inside_the_context_only():
    with pytest.raises(ValueError, match="GiB of memory"):
        _resources.require("x", memory=2 * _resources.DEFAULT_MAX_MEMORY)
    with _resources.limits(memory=math.inf):
        _resources.require("x", memory=2 * _resources.DEFAULT_MAX_MEMORY)
        with _resources.limits(work=10.0), pytest.raises(ValueError, match="operations"):
            _resources.require("x", work=11.0)
    with pytest.raises(ValueError, match="GiB of memory"):
        _resources.require("x", memory=2 * _resources.DEFAULT_MAX_MEMORY)


def test_cli_caps_come_from_flags_then_environment(monkeypatch):
    parser_args = type("A", (), {"max_memory": None, "max_work": "1e5"})()
    monkeypatch.setenv(cli.ENV_MEMORY, "2G")
    assert cli._caps(parser_args) == (2 * 2**30, 1e5)
    monkeypatch.delenv(cli.ENV_MEMORY)
    assert cli._caps(parser_args) == (_resources.DEFAULT_MAX_MEMORY, 1e5)


def test_worker_processes_get_the_parents_caps():
    with ProcessPoolExecutor(max_workers=1, initializer=cli._worker_init, initargs=(100.0, 1e3)) as ex:
        with pytest.raises(ValueError, match="over the cap of 100 B"):
            ex.submit(_resources.require, "x", 200.0).result()
        assert ex.submit(_resources.require, "x", 50.0).result() is None
