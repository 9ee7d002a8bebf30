"""Shared fixtures: Hydra compose of the project's configs, and a small fast training setup."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
SHARED_DATA = REPO.parent / "shared" / "data"


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
