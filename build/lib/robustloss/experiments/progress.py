"""A Hydra callback that reports a sweep's progress: experiments run, skipped (record
already there), failed and remaining, with each experiment's wall time."""

from __future__ import annotations

import logging
import time
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from robustloss.experiments.sweeps import expand, merge_sweep_overrides, sweep_params

log = logging.getLogger("robustloss.sweep")


def count_sweep_jobs(config: DictConfig) -> int:
    """Number of jobs Hydra's basic sweeper will launch: the product of the sweep lists in
    ``hydra.sweeper.params`` and on the command line (the command line wins per key)."""
    return len(expand(merge_sweep_overrides(sweep_params(config), config.hydra.overrides.task)))


class SweepProgress(Callback):
    def __init__(self) -> None:
        self.total: int | None = None
        self.counts = {"ran": 0, "skipped": 0, "failed": 0}
        self.started = self.job_started = time.perf_counter()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.total = count_sweep_jobs(config)
        self.started = time.perf_counter()
        log.info("sweep: %d experiments", self.total)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.job_started = time.perf_counter()

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        seconds = time.perf_counter() - self.job_started
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
        if self.total is not None and not any(self.counts.values()):
            # a remote launcher (SLURM): jobs reported in their own logs, not to this process
            log.info("sweep of %d experiments finished in %.1fs; each job's log says whether it "
                     "ran or was skipped", self.total, time.perf_counter() - self.started)
        elif self.total is not None:
            log.info("sweep finished in %.1fs: done %d, skipped %d, failed %d of %d",
                     time.perf_counter() - self.started, self.counts["ran"],
                     self.counts["skipped"], self.counts["failed"], self.total)
