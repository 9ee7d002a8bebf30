"""A sweep killed with SIGKILL and re-run finishes only the missing experiments; an experiment
killed between folds resumes at the fold it was on."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from robustloss.records import find_records

from .conftest import REPO

SWEEP = ["loss=ce,blurry,piecewise_zero", "seed=0,1", "dataset.subset=400", "train.epochs=6",
         "folds=2", "progress=false"]


def sweep_cmd(results, tmp_path):
    return [sys.executable, "-m", "robustloss.run", "-m", *SWEEP, f"results_dir={results}",
            f"hydra.sweep.dir={tmp_path / 'sweep'}"]


def finished_line(output: str) -> dict:
    match = re.search(r"sweep finished in .*: done (\d+), skipped (\d+), failed (\d+) of (\d+)", output)
    assert match, output[-2000:]
    return dict(zip(("done", "skipped", "failed", "total"), map(int, match.groups()), strict=True))


@pytest.mark.parametrize("kill_after_records,extra_delay", [
    (1, 0.0), pytest.param(2, 0.3, marks=pytest.mark.slow)])
def test_killed_sweep_resumes_without_duplicates(tmp_path, kill_after_records, extra_delay):
    results = tmp_path / "records"
    proc = subprocess.Popen(sweep_cmd(results, tmp_path), cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while len(list(results.glob("*.json"))) < kill_after_records:
        assert proc.poll() is None and time.monotonic() < deadline, "sweep ended before the kill"
        time.sleep(0.05)
    time.sleep(extra_delay)  # lands anywhere in the next experiment, possibly mid-write
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    survivors = find_records(results)
    assert len(survivors) == len(list(results.glob("*.json")))  # every record is whole
    assert 0 < len(survivors) < 6

    out = subprocess.run(sweep_cmd(results, tmp_path), cwd=REPO, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    counts = finished_line(out.stdout + out.stderr)
    assert counts == {"done": 6 - len(survivors), "skipped": len(survivors), "failed": 0, "total": 6}
    final = find_records(results)
    assert len(final) == 6 and len({r["id"] for r in final}) == 6
    assert len({(r["settings"]["loss"]["name"], r["settings"]["seed"]) for r in final}) == 6
    for old in survivors:  # finished records were not touched
        assert json.loads((results / f"{old['id']}.json").read_text()) == old


def test_unreadable_record_is_reported_and_rerun(tmp_path):
    results = tmp_path / "records"
    cmd = sweep_cmd(results, tmp_path)[:4] + ["loss=ce", "seed=0,1", *SWEEP[2:],
                                              f"results_dir={results}"]
    assert subprocess.run(cmd, cwd=REPO, capture_output=True, timeout=300).returncode == 0
    first = sorted(results.glob("*.json"))
    assert len(first) == 2
    first[0].write_text(first[0].read_text()[:100])  # truncated, as by a full disk
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0
    assert f"cannot read record {first[0]}" in out.stdout + out.stderr
    assert finished_line(out.stdout + out.stderr)["done"] == 1
    assert len(find_records(results)) == 2


EXPERIMENT = ["dataset.subset=600", "train.epochs=40", "train.stack=sequential", "folds=4", "progress=false",
              "threads=1"]  # the digits config stacks its folds, which train together


def test_a_killed_experiment_resumes_at_its_fold_and_trains_the_same_models(tmp_path):
    """SIGKILL once the first fold is kept: the re-run takes the kept folds, trains the rest,
    and ends with the probabilities of a run never killed; its wall time counts the folds'
    time in the killed run, and the kept folds are gone once the record is written."""
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    cmd = [sys.executable, "-m", "robustloss.run", *EXPERIMENT, "hydra.run.dir=" + str(tmp_path / "hydra")]
    proc = subprocess.Popen([*cmd, f"results_dir={killed}"], cwd=REPO, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    folds = killed / "predictions" / "folds"
    deadline = time.monotonic() + 240
    while not list(folds.glob("*/fold0.npz")):
        assert proc.poll() is None and time.monotonic() < deadline, "it ended before keeping a fold"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = sorted(p.name for p in folds.glob("*/fold*.npz"))
    assert not find_records(killed) and 1 <= len(kept) < 4, kept

    again = subprocess.run([*cmd, f"results_dir={killed}"], cwd=REPO, capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "fold 0: taken from an earlier run" in again.stdout + again.stderr
    done = subprocess.run([*cmd, f"results_dir={whole}"], cwd=REPO, capture_output=True, timeout=600)
    assert done.returncode == 0
    (resumed,), (uninterrupted,) = find_records(killed), find_records(whole)
    assert resumed["id"] == uninterrupted["id"] and resumed["metrics"] == uninterrupted["metrics"]
    with np.load(killed / f"{resumed['id']}.npz") as a, np.load(whole / f"{resumed['id']}.npz") as b:
        np.testing.assert_array_equal(a["probabilities"], b["probabilities"])
    taken = [f for f in resumed["folds"] if "earlier_run" in f]
    assert len(taken) == len(kept) and all(f["earlier_run"]["seconds"] > 0 for f in taken)
    timings = resumed["timings"]
    assert timings["earlier_runs_seconds"] == pytest.approx(sum(f["earlier_run"]["seconds"] for f in taken))
    assert timings["total_seconds"] > timings["earlier_runs_seconds"] + timings["load_seconds"]
    assert uninterrupted["timings"]["earlier_runs_seconds"] == 0
    assert not list(folds.glob("*/*")), "the kept folds outlived their record"


def test_kept_folds_go_when_the_record_is_written_and_force_does_not_use_them(tmp_path, caplog):
    from robustloss.experiments.config import compose
    from robustloss.experiments.experiment import run_and_record

    settings = compose(["dataset.subset=300", "train.epochs=2", "folds=3", "train.stack=sequential"])
    kept = tmp_path / "predictions" / "folds" / settings.id
    kept.mkdir(parents=True)
    (kept / "fold0.npz").write_bytes(b"left by a killed run")
    with caplog.at_level("WARNING", logger="robustloss"):
        run_and_record(settings, str(tmp_path), force=True, progress=False)
    assert "fold 0 saved by an earlier run" not in caplog.text  # force: not even looked at
    assert not kept.exists()
