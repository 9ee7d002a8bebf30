"""A sweep submitted as a real SLURM job array through hydra-submitit-launcher."""

import re
import subprocess
import sys

import pytest

from robustloss.records import find_records

from .conftest import REPO
from .slurm_cluster import LocalSlurm, ensure_slurm_installed


@pytest.fixture(scope="module")
def slurm():
    why = ensure_slurm_installed()
    if why:
        pytest.skip(why)
    cluster = LocalSlurm().start()
    yield cluster
    cluster.stop()


def test_sweep_runs_as_a_job_array_and_every_record_arrives(slurm, tmp_path):
    results = tmp_path / "records"
    sweep_dir = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "robustloss.run", "-m", "launcher=slurm",
           "loss=ce,blurry", "seed=0,1", "dataset.subset=300", "train.epochs=1", "folds=2",
           f"results_dir={results}", f"hydra.sweep.dir={sweep_dir}",
           "hydra.launcher.partition=debug", "hydra.launcher.gpus_per_node=0",
           "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=null",
           "hydra.launcher.timeout_min=10", "hydra.launcher.signal_delay_s=10"]
    out = subprocess.run(cmd, cwd=REPO, env=slurm.env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    records = find_records(results)
    assert len(records) == 4
    assert {(r["settings"]["loss"]["name"], r["settings"]["seed"]) for r in records} == {
        ("ce", 0), ("ce", 1), ("blurry", 0), ("blurry", 1)}
    # one array: submitit folders are named <array job id>_<task index>
    jobs = sorted(p.name for p in (sweep_dir / ".submitit").iterdir()
                  if re.fullmatch(r"\d+_\d+", p.name))
    assert len(jobs) == 4 and len({j.split("_")[0] for j in jobs}) == 1
    # a re-run resumes: every task finds its record and skips
    again = subprocess.run(cmd, cwd=REPO, env=slurm.env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0
    assert find_records(results) == records  # nothing re-run or rewritten
