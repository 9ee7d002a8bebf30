"""Shared fixtures: Hydra compose of the project's configs, and a small fast training setup.
Under pytest-xdist (``make test``: a worker per core) each worker and the commands it starts
train on one thread, so that the workers share the cores instead of fighting over them."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
SHARED_DATA = REPO.parent / "shared" / "data"

if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"  # inherited by the robustloss commands tests run
    torch.set_num_threads(1)


@pytest.fixture
def load_script(monkeypatch):
    """load_script(name) -> scripts/<name>.py as a module, registered in sys.modules (its
    dataclasses look it up there) with scripts/ on the path (for the scripts it imports),
    both undone after the test."""

    def _load(name: str):
        monkeypatch.syspath_prepend(str(REPO / "scripts"))
        spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
        script = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, script)
        spec.loader.exec_module(script)
        return script

    return _load


@pytest.fixture
def compose_config():
    """compose_config(*overrides) -> the composed DictConfig, as `python -m robustloss.run`
    would see it."""

    def _compose(*overrides: str):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose(config_name="config", overrides=list(overrides))

    yield _compose
    GlobalHydra.instance().clear()


# Overrides that make a digits experiment take a few seconds on a CPU.
FAST = ("train.epochs=3", "folds=3", "progress=false")


# The files that take longest (a minute or more each), first: pytest-xdist hands whole files
# to the workers in collection order, and a long file handed out last holds the run up.
LONGEST_FIRST = ("test_reproduce.py", "test_find_issues.py", "test_bad_inputs.py",
                 "test_slurm.py", "test_pipeline_datasets.py", "test_figures.py",
                 "test_packaging.py", "test_faults.py", "test_resume.py", "test_parallel.py",
                 "test_auto_parameter_check.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: file order kept
