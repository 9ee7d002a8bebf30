"""A sweep killed with SIGKILL and re-run finishes only the missing experiments."""

import json
import os
import re
import signal
import subprocess
import sys
import time

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
