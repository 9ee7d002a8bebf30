"""A Hydra callback that reports a sweep's progress: experiments run, skipped (record
already there), failed and remaining, with each experiment's wall time."""

from __future__ import annotations

import logging
import time
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger("robustloss.sweep")


def count_sweep_jobs(config: DictConfig) -> int:
    """Number of jobs Hydra's basic sweeper will launch: the product of the sweep lists in
    ``hydra.sweeper.params`` and on the command line (the command line wins per key)."""
    parser = OverridesParser.create()
    by_key: dict[str, str] = {}
    for key, value in (config.hydra.sweeper.get("params") or {}).items():
        by_key[key] = f"{key}={value}"
    for text in config.hydra.overrides.task:
        by_key[parser.parse_override(text).key_or_group] = text
    total = 1
    for override in parser.parse_overrides(list(by_key.values())):
        if override.is_sweep_override():
            total *= len(list(override.sweep_string_iterator()))
    return total


class SweepProgress(Callback):
    def __init__(self) -> None:
        self.total: int | None = None
        self.counts = {"ran": 0, "skipped": 0, "failed": 0}
        self.started = time.perf_counter()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.total = count_sweep_jobs(config)
        self.started = time.perf_counter()
        log.info("sweep: %d experiments", self.total)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.job_started = time.perf_counter()

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        seconds = time.perf_counter() - getattr(self, "job_started", self.started)
        try:
            outcome = "ran" if job_return.return_value["ran"] else "skipped"
        except Exception:  # the job raised; Hydra reports the error itself
            outcome = "failed"
        self.counts[outcome] += 1
        finished = sum(self.counts.values())
        if self.total is None:  # a single run, or a job inside a SLURM array task
            log.info("experiment %s in %.1fs", outcome, seconds)
            return
        log.info("[%d/%d] %s in %.1fs; done %d, skipped %d, failed %d, remaining %d",
                 finished, self.total, outcome, seconds, self.counts["ran"],
                 self.counts["skipped"], self.counts["failed"], self.total - finished)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.total is not None:
            log.info("sweep finished in %.1fs: done %d, skipped %d, failed %d of %d",
                     time.perf_counter() - self.started, self.counts["ran"],
                     self.counts["skipped"], self.counts["failed"], self.total)
