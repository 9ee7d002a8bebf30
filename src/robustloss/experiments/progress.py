"""A Hydra callback that reports a sweep's progress: experiments run, skipped (record
already there), failed and remaining, with each experiment's wall time; at the end, the
summary of every job's outcome (each job leaves ``outcome.json`` in its folder, so jobs in
other processes -- launcher=parallel, slurm -- are counted too) and the failures by name."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
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
        _ACTIVE.update(sweep_dir=str(config.hydra.sweep.dir), total=self.total,
                       started=self.started)
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
        if self.total is not None:
            summarise(str(config.hydra.sweep.dir), self.total, self.started)


# The sweep this process launched and has not summarised yet (for summarise_unfinished).
_ACTIVE: dict[str, Any] = {}


def missing_job(sweep_dir: Path, num: int) -> str:
    """What is known of job ``num`` that left no outcome: its overrides (when it started)
    and its scheduler log (SLURM array task ``num``)."""
    overrides = sweep_dir / str(num) / ".hydra" / "overrides.yaml"
    what = f"job {num}"
    if overrides.is_file():
        lines = [line[2:].strip() for line in overrides.read_text().splitlines()
                 if line.startswith("- ")]
        what += f": {' '.join(lines)}"
    logs = sorted(sweep_dir.glob(f".submitit/*_{num}/*_log.err"))
    return what + f" (log: {logs[-1] if logs else sweep_dir / str(num)})"


def summarise(sweep_dir: str, total: int, started: float) -> None:
    """The sweep's summary from the outcome each job left in its folder (jobs may have run
    in other processes): failed experiments with their logs, jobs that left no outcome
    (killed, cancelled, out of time) with theirs; either makes the exit status 1."""
    _ACTIVE.clear()
    outcomes = read_outcomes(sweep_dir, total)
    counts = {key: sum(o["outcome"] == key for o in outcomes) for key in ("ran", "skipped", "failed")}
    missing = [num for num, path in enumerate(outcome_paths(sweep_dir, total)) if not path.exists()]
    log.info("sweep finished in %.1fs: done %d, skipped %d, failed %d of %d%s",
             time.perf_counter() - started, counts["ran"], counts["skipped"], counts["failed"],
             total, f", {len(missing)} left no outcome" if missing else "")
    for o in outcomes:
        if o["outcome"] == "failed":
            log.error("failed: %s -- %s (log: %s)", " ".join(o["overrides"]), o["error"], o["log"])
    for num in missing:
        log.error("no outcome (killed, cancelled or out of time): %s",
                  missing_job(Path(sweep_dir), num))
    if missing:
        log.error("re-run the same command to run what is missing (finished records are skipped)")
    if counts["failed"] or missing:
        raise SystemExit(1)


def summarise_unfinished() -> None:
    """After a launcher raised (a cancelled or timed-out SLURM task makes submitit's
    results() raise before Hydra's end-of-sweep callbacks run): the summary of what the
    jobs left, when this process launched a sweep that was not summarised."""
    if _ACTIVE:
        wait_for_array_tasks(Path(_ACTIVE["sweep_dir"]))
        summarise(**_ACTIVE)


def wait_for_array_tasks(sweep_dir: Path, poll_seconds: float = 5.0) -> None:
    """Until SLURM lists none of the sweep's array jobs (their ids name the folders under
    ``.submitit``): the other tasks may still be running when one of them failed."""
    ids = sorted({p.name.split("_")[0] for p in sweep_dir.glob(".submitit/*_*")
                  if p.name.split("_")[0].isdigit()})
    if not ids or not shutil.which("squeue"):
        return
    log.info("waiting for the sweep's other SLURM tasks to end (job %s)", ",".join(ids))
    while True:
        listed = subprocess.run(["squeue", "-h", "-o", "%i", "-j", ",".join(ids)],
                                capture_output=True, text=True)
        if listed.returncode or not listed.stdout.strip():
            return
        time.sleep(poll_seconds)
