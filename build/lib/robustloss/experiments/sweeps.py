"""Expanding Hydra sweep overrides into the jobs the basic sweeper will launch, and finding
which of them still lack a record (so a finished sweep need not be launched at all)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from hydra import compose
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from robustloss.experiments.config import initialized
from robustloss.experiments.experiment import ExperimentSettings, has_dynamics
from robustloss.records import CorruptRecordError, RecordStore


def sweep_params(config) -> dict:
    """``hydra.sweeper.params`` of a composed config (with its hydra node) as a plain dict."""
    params = config.hydra.sweeper.get("params")
    return OmegaConf.to_container(params) if params is not None else {}


def merge_sweep_overrides(config_params: dict | None, command_line: Iterable[str]) -> list[str]:
    """``hydra.sweeper.params`` (key -> "a,b") plus command-line overrides; the command line
    wins per key, as in Hydra's basic sweeper."""
    parser = OverridesParser.create()
    by_key = {key: f"{key}={value}" for key, value in (config_params or {}).items()}
    for text in command_line:
        by_key[parser.parse_override(text).key_or_group] = text
    return list(by_key.values())


def expand(overrides: list[str]) -> list[list[str]]:
    """One override list per job: the Cartesian product of the sweep overrides (``k=a,b``,
    ``k=range(0,3)``, ...), plain overrides repeated in every job."""
    axes = []
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.get_key_element()
        values = (list(override.sweep_string_iterator()) if override.is_sweep_override()
                  else [override.get_value_element_as_str()])
        axes.append([f"{key}={value}" for value in values])
    return [list(job) for job in itertools.product(*axes)]


def pending_jobs(overrides: list[str]) -> list[list[str]]:
    """The jobs of the multirun ``robustloss run -m <overrides>`` whose record is missing or
    unreadable."""
    with initialized():
        parsed = OverridesParser.create().parse_overrides(overrides)
        plain = [o.input_line for o in parsed if not o.is_sweep_override()]
        base = compose(config_name="config", overrides=plain, return_hydra_config=True)
        jobs = expand(merge_sweep_overrides(sweep_params(base), overrides))
        pending = []
        for job in jobs:
            cfg = OmegaConf.to_container(compose(config_name="config", overrides=job), resolve=True)
            settings = ExperimentSettings.from_config(cfg)
            try:
                done = RecordStore(cfg["results_dir"]).load(settings.id)
            except CorruptRecordError:
                done = None
            if done is None or not has_dynamics(done, settings.dynamics):
                pending.append(job)
    return pending
