"""A Hydra callback that reports a sweep's progress: experiments run, skipped (record
already there), failed and remaining, with each experiment's wall time; at the end, the
summary of every job's outcome (each job leaves ``outcome.json`` in its folder, so jobs in
other processes -- launcher=parallel, slurm -- are counted too) and the failures by name."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig

from robustloss.experiments.sweeps import expand, merge_sweep_overrides, sweep_params
from robustloss.records import atomic_write

log = logging.getLogger("robustloss.sweep")


def count_sweep_jobs(config: DictConfig) -> int:
    """Number of jobs Hydra's basic sweeper will launch: the product of the sweep lists in
    ``hydra.sweeper.params`` and on the command line (the command line wins per key)."""
    return len(expand(merge_sweep_overrides(sweep_params(config), config.hydra.overrides.task)))


OUTCOME_FILE = "outcome.json"


def job_outcome(job_return: Any) -> tuple[str, str | None]:
    """(ran | skipped | failed, the error line of a failed experiment)."""
    try:
        value = job_return.return_value
    except Exception as err:  # the job raised past the app (Hydra reports it itself)
        return "failed", f"{type(err).__name__}: {err}".splitlines()[0]
    if isinstance(value, dict) and "failed" in value:
        return "failed", value["failed"]
    return ("ran" if value["ran"] else "skipped"), None


def write_outcome(outcome: str, error: str | None, seconds: float) -> None:
    """The job's outcome beside its log (the job's output folder), for the sweep's summary
    when jobs run in other processes (launcher=parallel, slurm)."""
    runtime = HydraConfig.get().runtime
    folder = Path(runtime.output_dir)
    logs = sorted(str(p) for p in folder.glob("*.log"))
    text = json.dumps({"outcome": outcome, "error": error, "seconds": round(seconds, 1),
                       "overrides": list(HydraConfig.get().overrides.task),
                       "log": logs[0] if logs else str(folder)})
    try:
        atomic_write(folder / OUTCOME_FILE, lambda handle: handle.write(text.encode()))
    except OSError as err:  # the experiment's record is what matters; say so and go on
        log.warning("could not write %s: %s", folder / OUTCOME_FILE, err)


def outcome_paths(sweep_dir: str | Path, total: int) -> list[Path]:
    """Where jobs 0 .. total-1 leave their outcome (hydra.sweep.subdir = the job number)."""
    return [Path(sweep_dir) / str(num) / OUTCOME_FILE for num in range(total)]


def read_outcomes(sweep_dir: str | Path, total: int) -> list[dict]:
    """The outcomes the sweep's jobs left (jobs that never finished left none)."""
    outcomes = []
    for path in outcome_paths(sweep_dir, total):
        if not path.exists():
            continue
        try:
            outcomes.append(json.loads(path.read_text()))
        except ValueError:
            outcomes.append({"outcome": "failed", "error": f"unreadable {path}",
                             "overrides": [], "log": str(path.parent)})
    return outcomes


class SweepProgress(Callback):
    def __init__(self) -> None:
        self.total: int | None = None
        self.counts = {"ran": 0, "skipped": 0, "failed": 0}
        self.pid = os.getpid()
        self.started = self.job_started = time.perf_counter()

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.total = count_sweep_jobs(config)
        self.pid = os.getpid()
        self.started = time.perf_counter()
        for path in outcome_paths(config.hydra.sweep.dir, self.total):  # a re-used sweep folder
            path.unlink(missing_ok=True)
        log.info("sweep: %d experiments", self.total)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.job_started = time.perf_counter()

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        seconds = time.perf_counter() - self.job_started
        outcome, error = job_outcome(job_return)
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            write_outcome(outcome, error, seconds)
        self.counts[outcome] += 1
        finished = sum(self.counts.values())
        if self.total is None or os.getpid() != self.pid:
            # a single run, or a job in a worker process or SLURM array task: the counts of
            # the whole sweep are not here (the summary at its end has them)
            log.info("experiment %s in %.1fs", outcome, seconds)
            return
        log.info("[%d/%d] %s in %.1fs; done %d, skipped %d, failed %d, remaining %d",
                 finished, self.total, outcome, seconds, self.counts["ran"],
                 self.counts["skipped"], self.counts["failed"], self.total - finished)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """The sweep's summary from the outcome each job left in its folder (jobs may have
        run in other processes); failed experiments are listed with their logs, jobs that
        left no outcome (killed, cancelled) as missing; either makes the exit status 1."""
        if self.total is None:
            return
        outcomes = read_outcomes(config.hydra.sweep.dir, self.total)
        counts = {key: sum(o["outcome"] == key for o in outcomes) for key in self.counts}
        missing = self.total - len(outcomes)
        log.info("sweep finished in %.1fs: done %d, skipped %d, failed %d of %d%s",
                 time.perf_counter() - self.started, counts["ran"], counts["skipped"],
                 counts["failed"], self.total, f", {missing} left no outcome" if missing else "")
        for o in outcomes:
            if o["outcome"] == "failed":
                log.error("failed: %s -- %s (log: %s)", " ".join(o["overrides"]), o["error"], o["log"])
        if missing:
            log.error("%d experiment(s) ended without an outcome (killed, cancelled or out of "
                      "time: see %s/.submitit or the job logs); re-run the same command to run "
                      "what is missing", missing, config.hydra.sweep.dir)
        if counts["failed"] or missing:
            raise SystemExit(1)
