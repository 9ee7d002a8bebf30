"""launcher=parallel: a sweep's experiments side by side (hydra-joblib-launcher), each with
its share of the cores; a failing experiment fails alone and is named at the end; a re-run
resumes. And the thread decision for one experiment."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from robustloss.errors import UserError
from robustloss.experiments.threads import cpu_cores, experiment_threads, parallel_jobs
from robustloss.records import find_records

from .conftest import REPO


@pytest.mark.parametrize("setting, n_jobs, cores, threads", [
    ("auto", None, 16, None),   # alone: torch's default (every core)
    ("auto", -1, 16, 1),        # one experiment per core, one thread each
    ("auto", 4, 16, 4),         # fewer, wider experiments (ResNets)
    ("auto", -2, 16, 1),        # all cores but one: 15 experiments
    ("auto", 3, 2, 1),          # more experiments than cores: never below one thread
    (3, 4, 16, 3),              # an explicit number wins
])
def test_threads_per_experiment(setting, n_jobs, cores, threads):
    assert experiment_threads(setting, n_jobs, cores) == threads


def test_bad_thread_settings_name_the_setting():
    with pytest.raises(UserError, match="threads must be"):
        experiment_threads(0, None, 4)
    with pytest.raises(UserError, match="n_jobs must not be 0"):
        parallel_jobs(0, 4)
    assert parallel_jobs(-1, 8) == 8 and parallel_jobs(2, 8) == 2


def summary(output: str) -> dict:
    match = re.search(r"sweep finished in .*: done (\d+), skipped (\d+), failed (\d+) of (\d+)",
                      output)
    assert match, output[-3000:]
    return dict(zip(("done", "skipped", "failed", "total"), map(int, match.groups()), strict=True))


def test_parallel_sweep_runs_side_by_side_names_failures_and_resumes(tmp_path):
    """Four experiments, two at a time, two of them with an impossible noise rate: the other
    two finish, each on one thread (2 jobs on this machine's cores, as the records say); the
    failures are named with their logs and the exit status is 1; the same command again
    skips the two records and fails the same two."""
    results, sweep = tmp_path / "records", tmp_path / "sweep"
    cmd = [sys.executable, "-m", "robustloss.run", "-m", "launcher=parallel",
           "hydra.launcher.n_jobs=2", "dataset=digits", "dataset.subset=500", "train.epochs=2",
           "folds=2", "loss=ce,blurry", "noise.rate=0.2,1.5",
           f"results_dir={results}", f"hydra.sweep.dir={sweep}"]
    first = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    output = first.stdout + first.stderr
    assert first.returncode == 1, output[-3000:]
    assert summary(output) == {"done": 2, "skipped": 0, "failed": 2, "total": 4}
    failed = re.findall(r"failed: (.*) -- (.*) \(log: (.*)\)", output)
    assert len(failed) == 2
    for overrides, error, log in failed:
        assert "noise.rate=1.5" in overrides and "noise.rate" in error
        assert Path(log).is_file() and "noise.rate" in Path(log).read_text()
    records = find_records(results)
    assert sorted(r["settings"]["loss"]["name"] for r in records) == ["blurry", "ce"]
    expected_threads = max(1, cpu_cores() // 2)
    assert all(r["device"]["threads"] == expected_threads for r in records)
    outcomes = [json.loads((sweep / str(n) / "outcome.json").read_text()) for n in range(4)]
    assert sorted(o["outcome"] for o in outcomes) == ["failed", "failed", "ran", "ran"]

    again = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert again.returncode == 1
    assert summary(again.stdout + again.stderr) == {"done": 0, "skipped": 2, "failed": 2, "total": 4}
