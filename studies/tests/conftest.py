"""Fixtures of the studies' tests (``make test-studies``; not part of ``make test``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

STUDIES = Path(__file__).resolve().parents[1]


@pytest.fixture
def load_script(monkeypatch):
    """load_script(name) -> studies/<name>.py as a module, registered in sys.modules (its
    dataclasses look it up there) with studies/ on the path (for the scripts it imports),
    both undone after the test."""

    def _load(name: str):
        monkeypatch.syspath_prepend(str(STUDIES))
        spec = importlib.util.spec_from_file_location(name, STUDIES / f"{name}.py")
        script = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, script)
        spec.loader.exec_module(script)
        return script

    return _load
