"""A sweep submitted as a real SLURM job array through hydra-submitit-launcher."""

import re
import subprocess
import sys
import time
from pathlib import Path

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


def _squeue(slurm) -> list[str]:
    out = subprocess.run(["squeue", "-h", "-o", "%i %T"], env=slurm.env, capture_output=True,
                         text=True, timeout=30)
    return out.stdout.split("\n")


@pytest.mark.slow
def test_failed_and_cancelled_tasks_are_named_with_their_logs(slurm, tmp_path):
    """Four tasks: one finishes, two raise (an impossible noise rate), one is cancelled with
    scancel while it trains. The submitting process waits for the others, names each
    failure and the cancelled task with its log and exits 1; re-submitting the short part
    skips the finished task and fails the impossible one again."""
    results, sweep_dir = tmp_path / "records", tmp_path / "sweep"
    cmd = [sys.executable, "-m", "robustloss.run", "-m", "launcher=slurm",
           "noise.rate=0.2,1.5", "train.epochs=1,400", "dataset.subset=600", "folds=2",
           f"results_dir={results}", f"hydra.sweep.dir={sweep_dir}",
           "hydra.launcher.partition=debug", "hydra.launcher.gpus_per_node=0",
           "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=null",
           "hydra.launcher.timeout_min=10", "hydra.launcher.signal_delay_s=10"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=slurm.env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    long_job = None
    deadline = time.monotonic() + 300
    while long_job is None:  # the 400-epoch task with a valid rate: cancel it while it trains
        assert proc.poll() is None and time.monotonic() < deadline
        for folder in sweep_dir.glob("[0-9]*"):
            overrides = folder / ".hydra" / "overrides.yaml"
            if overrides.is_file() and "train.epochs=400" in overrides.read_text() \
                    and "noise.rate=0.2" in overrides.read_text():
                long_job = int(folder.name)
        time.sleep(0.5)
    task = next(line.split()[0] for line in _squeue(slurm) if line.split()
                and line.split()[0].endswith(f"_{long_job}"))
    subprocess.run(["scancel", task], env=slurm.env, check=True, timeout=30)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 1, output[-3000:]
    assert re.search(r"sweep finished in .*: done 1, skipped 0, failed 2 of 4, 1 left no outcome",
                     output), output[-3000:]
    failed = re.findall(r"failed: (.*) -- (.*) \(log: (.*)\)", output)
    assert len(failed) == 2 and all("noise.rate=1.5" in f[0] for f in failed)
    cancelled = re.search(r"no outcome \(killed, cancelled or out of time\): job (\d+): (.*) "
                          r"\(log: (.*)\)", output)
    assert cancelled and int(cancelled.group(1)) == long_job
    assert "train.epochs=400" in cancelled.group(2) and cancelled.group(3).endswith("_log.err")
    assert "re-run the same command" in output
    finished = find_records(results)
    assert len(finished) == 1 and finished[0]["settings"]["train"]["epochs"] == 1

    again = subprocess.run([*cmd[:6], "train.epochs=1", *cmd[7:]], cwd=REPO, env=slurm.env,
                           capture_output=True, text=True, timeout=600)
    assert re.search(r"done 0, skipped 1, failed 1 of 2", again.stdout + again.stderr)
    assert find_records(results) == finished                # the finished record untouched


@pytest.mark.slow
def test_a_task_past_its_time_limit_is_requeued_then_reported(slurm, tmp_path):
    """A one-minute time limit and an experiment of many minutes: SLURM signals the task
    before the limit, submitit requeues it once (max_num_timeout=1), the second attempt is
    stopped the same way and not requeued again, which fails the experiment: the
    submitting process names it with the reason and its log and exits 1, and no record was
    written. ~3 minutes."""
    results, sweep_dir = tmp_path / "records", tmp_path / "sweep"
    cmd = [sys.executable, "-m", "robustloss.run", "-m", "launcher=slurm", "seed=0",
           "train.epochs=1000", "dataset.subset=600", "folds=2",
           f"results_dir={results}", f"hydra.sweep.dir={sweep_dir}",
           "hydra.launcher.partition=debug", "hydra.launcher.gpus_per_node=0",
           "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=null",
           "hydra.launcher.timeout_min=1", "hydra.launcher.signal_delay_s=30",
           "hydra.launcher.max_num_timeout=1"]
    out = subprocess.run(cmd, cwd=REPO, env=slurm.env, capture_output=True, text=True,
                         timeout=900)
    output = out.stdout + out.stderr
    assert out.returncode == 1, output[-3000:]
    assert re.search(r"sweep finished in .*: done 0, skipped 0, failed 1 of 1", output), \
        output[-3000:]
    failed = re.findall(r"failed: (.*) -- (.*) \(log: (.*)\)", output)
    assert len(failed) == 1 and "train.epochs=1000" in failed[0][0]
    assert "timed-out too many times" in failed[0][1] and Path(failed[0][2]).is_file()
    submitit_log = "".join(p.read_text() for p in sweep_dir.glob(".submitit/*/*_log.out"))
    assert len(re.findall(r"submitit INFO .* Starting with JobEnvironment", submitit_log)) == 2
    assert len(re.findall(r"submitit INFO .* Requeued job \d+ \(0 remaining timeouts\)",
                          submitit_log)) == 1                            # once, as configured
    assert not find_records(results)
