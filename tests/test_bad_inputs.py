"""Bad input on every entry point: one line ``robustloss: error: ...`` naming the setting or
file, exit status 2, no traceback, no training, and finished records untouched."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import robustloss
from robustloss.cli import main as cli_main
from robustloss.errors import UserError
from robustloss.experiments import experiment as experiment_module
from robustloss.experiments.config import compose_config
from robustloss.experiments.experiment import ExperimentSettings, run_and_record

from .conftest import REPO


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A results folder holding one finished record, and data files with problems."""
    root = tmp_path_factory.mktemp("bad_inputs")
    results = root / "results"
    settings = ExperimentSettings.from_dict({
        "dataset": {"name": "digits", "subset": 200}, "loss": {"name": "ce"},
        "model": {"name": "small_cnn"}, "detector": {"name": "confident_learning"},
        "train": {"epochs": 1, "lr": 3e-3, "inputs": "unit"}, "folds": 2})
    record, _ = run_and_record(settings, str(results), progress=False)
    images = np.random.default_rng(0).integers(0, 256, (60, 8, 8), dtype=np.uint8)
    np.savez(root / "one_to_ten.npz", images=images, labels=np.arange(60) % 10 + 1)
    np.savez(root / "ten.npz", images=images, labels=np.arange(60) % 10)
    np.savez(root / "float_images.npz", images=images.astype(np.float32), labels=np.arange(60) % 10)
    (root / "a_file").write_text("not a folder")
    empty = root / "empty"
    empty.mkdir()
    lonely = root / "lonely"  # a record whose arrays file is gone
    run_and_record(settings, str(lonely), progress=False)
    for npz in lonely.glob("*.npz"):
        npz.unlink()
    return {"root": root, "results": results, "record": record["id"], "empty": empty,
            "lonely": lonely}


RUN = [  # (overrides, words the message must contain)
    ("seed=-1", "seed must be an integer >= 0, got -1"),
    ("seed=abc", "seed must be an integer >= 0, got 'abc'"),
    ("noise.rate=1.0", "noise.rate must be in [0, 1), got 1.0"),
    ("noise.rate=abc", "noise.rate must be a number in [0, 1), got 'abc'"),
    ("noise.mode=pairwise", "noise.mode must be one of exact, bernoulli; got 'pairwise'"),
    ("noise.kind=uniform", "noise.kind must be one of symmetric, asymmetric, pairflip, instance; "
                           "got 'uniform'"),
    ("noise=pairflip noise.rate=0.5", "noise.kind=pairflip needs noise.rate < 0.5"),
    ("noise=asymmetric noise.rate=0.6", "noise.kind=asymmetric needs noise.rate < 0.5"),
    ("noise=instance noise.spread=-1", "noise.spread must be a number >= 0, got -1.0"),
    ("noise=asymmetric noise.flips=[[3,12]]", "noise.flips: classes must differ and lie in [0, 10)"),
    ("noise=asymmetric dataset=arrays dataset.path={root}/ten.npz",
     "noise.kind=asymmetric has no class map for dataset 'arrays'"),
    ("loss=blurry loss.gamma=abc", "loss.gamma (blurry) must be a number, got 'abc'"),
    ("loss=blurry loss.gamma=-1", "loss.gamma (blurry) must be in [0.0, inf]"),
    ("loss=piecewise_zero loss.c=2", "loss.c (piecewise_zero) must be in [0.0, 1.0], got 2"),
    ("loss=piecewise_zero loss.delay=50", "loss.delay 50 >= train.epochs 10"),
    ("loss=blurry loss.delay=-1", "loss.delay must be an integer >= 0, got -1"),
    ("loss=ce +loss.gamma=2", "loss 'ce' got unknown parameter(s) ['gamma']"),
    ("folds=1", "folds must be an integer >= 2, got 1"),
    ("train.lr=abc", "train.lr must be a number, got 'abc'"),
    ("train.lr=-1", "train.lr must be > 0, got -1.0"),
    ("train.epochs=0", "train.epochs must be an integer >= 1, got 0"),
    ("train.inputs=scaled", "train.inputs must be one of raw, unit, standardize; got 'scaled'"),
    ("train.precision=fp64", "train.precision must be one of auto, fp32, bf16, fp16"),
    ("train.optimizer=rmsprop", "train.optimizer must be one of adam, sgd"),
    ("+train.bogus=1", "unknown train setting(s) ['bogus']"),
    ("cv.split=random", "cv.split must be one of stratified, kfold"),
    ("dynamics=every", "dynamics must be one of none, first_fold, all"),
    ("dataset.subset=5000", "dataset.subset 5000 is larger than dataset 'digits' (1797"),
    ("dataset=arrays", "dataset 'arrays' needs dataset.path=<file.npz>"),
    ("dataset=arrays dataset.path={root}/missing.npz", "{root}/missing.npz"),
    ("dataset=arrays dataset.path={root}/one_to_ten.npz", "labels leave class(es) [0] of 0..10 empty"),
    ("dataset=arrays dataset.path={root}/float_images.npz", "'images' must be uint8"),
    ("detector=aum detector.percentile=100", "detector.percentile must be in (0, 100), got 100"),
    ("detector=aum detector.threshold_size=5000", "threshold samples exceed"),
    ("detector.filter_by=bogus", "detector.filter_by 'bogus' is not one of"),
    ("protocol=holdout", "protocol must be one of crossval, test_set; got 'holdout'"),
    ("device=tpu", "device must be auto, cpu, cuda or cuda:N; got 'tpu'"),
    ("model=small_cnn +model.width=3", "model 'small_cnn' got unknown parameter(s) ['width']"),
    ("results_dir={root}/a_file", "results_dir '{root}/a_file' is not writable"),
]


def snapshot(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if p.is_file()}


def assert_one_line_error(out, words):
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    assert "Traceback" not in out.stderr and "Error executing job" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("robustloss: error:")]
    assert len(errors) == 1, out.stderr[-2000:]
    assert words in errors[0], errors[0]


@pytest.mark.parametrize("overrides, words", RUN, ids=[o for o, _ in RUN])
def test_every_bad_setting_is_refused_with_its_message_before_training(workspace, overrides, words,
                                                                       monkeypatch):
    """In-process, through the configs the CLI composes (fast); the one-line output and exit
    status of the command itself are checked below on a sample of these rows."""
    root, results = workspace["root"], workspace["results"]
    before = snapshot(results)
    args = [a.format(root=root) for a in overrides.split()]
    if not any(a.startswith("results_dir=") for a in args):
        args.append(f"results_dir={results}")

    def trained(*_, **__):
        raise AssertionError("training started before the input was checked")

    monkeypatch.setattr(experiment_module, "judge", trained)
    with pytest.raises(UserError) as caught:
        settings = robustloss.compose(args)
        run_and_record(settings, str(compose_config(args).results_dir), progress=False)
    assert words.format(root=root) in str(caught.value).splitlines()[0]
    assert snapshot(results) == before


# one row per kind of check (settings, data file, folder) as a real process; every row of RUN
# is checked in-process above
COMMAND_LINE = ["seed=abc", "dataset=arrays dataset.path={root}/missing.npz",
                "results_dir={root}/a_file"]


def run_command(cmd: list[str], cwd) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def command_line(workspace):
    """The command lines of this file that run as real processes, as many at a time as there
    are cores (most of each process's time is Python's, torch's and Hydra's start-up), with
    the results folder's snapshot before and after all of them."""
    root, results = workspace["root"], workspace["results"]
    fill = {k: workspace[k] for k in ("root", "empty", "lonely")}
    jobs = {}
    for number, overrides in enumerate(COMMAND_LINE):
        args = [a.format(root=root) for a in overrides.split()]
        if not any(a.startswith("results_dir=") for a in args):
            args.append(f"results_dir={results}")
        jobs[("run", overrides)] = ([sys.executable, "-m", "robustloss.run", *args,
                                     "progress=false", f"hydra.run.dir={root / 'hydra' / str(number)}"],
                                    REPO)
    for args, _ in OTHERS:
        if args[0] in AS_PROCESS:
            jobs[("cli", " ".join(args))] = ([sys.executable, "-m", "robustloss.cli",
                                              *[a.format(**fill) for a in args]], root)
    before = snapshot(results)
    with ThreadPoolExecutor(max(1, len(os.sched_getaffinity(0)))) as pool:
        outputs = dict(zip(jobs, pool.map(lambda job: run_command(*job), jobs.values()),
                           strict=True))
    return {"outputs": outputs, "before": before, "after": snapshot(results)}


@pytest.mark.parametrize("overrides, words", [row for row in RUN if row[0] in COMMAND_LINE],
                         ids=COMMAND_LINE)
def test_run_refuses_bad_input_in_one_line(workspace, command_line, overrides, words):
    out = command_line["outputs"][("run", overrides)]
    assert_one_line_error(out, words.format(root=workspace["root"]))
    assert "ran in" not in out.stdout + out.stderr  # nothing trained
    assert command_line["after"] == command_line["before"]  # results untouched, nothing added


OTHERS = [  # (robustloss subcommand and arguments, words)
    (["tables", "{root}/nowhere"], "results folder {root}/nowhere does not exist"),
    (["tables", "{empty}"], "no records found under {empty}"),
    (["label-issues", "{root}/nowhere"], "results folder {root}/nowhere does not exist"),
    (["label-issues", "{lonely}"], "has no arrays file"),
    (["figures", "{root}/nowhere"], "results folder {root}/nowhere does not exist"),
    (["reproduce", "table1", "--datasets", "nope", "--smoke"], "unknown dataset 'nope'; valid choices:"),
    (["reproduce", "table1", "--results", "{root}/a_file/x", "--smoke"], "is not writable"),
    (["demo", "--results", "{root}/a_file/x"], "is not writable"),
    (["bench", "--device", "tpu"], "device must be auto, cpu, cuda or cuda:N; got 'tpu'"),
    (["find-issues", "{root}/nowhere"], "{root}/nowhere"),
    (["run", "noise.rate=2"], "noise.rate must be in [0, 1), got 2.0"),
]


# subcommands also checked as a process of their own (the console entry point, the Hydra
# app behind `run`); the others run in-process through the same main()
AS_PROCESS = ("tables", "run")


def in_process(args: list[str], cwd, capsys, monkeypatch) -> subprocess.CompletedProcess:
    """``robustloss ARGS`` through robustloss.cli.main in this process, as a process's
    exit status, stdout and stderr."""
    monkeypatch.chdir(cwd)
    capsys.readouterr()
    try:
        code = cli_main(args)
    except SystemExit as exit:
        code = exit.code
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, captured.out, captured.err)


@pytest.mark.parametrize("args, words", OTHERS, ids=[" ".join(a[:2]) for a, _ in OTHERS])
def test_every_subcommand_refuses_in_one_line(workspace, command_line, args, words, capsys,
                                              monkeypatch):
    fill = {k: workspace[k] for k in ("root", "empty", "lonely")}
    if args[0] in AS_PROCESS:
        out = command_line["outputs"][("cli", " ".join(args))]
    else:
        out = in_process([a.format(**fill) for a in args], workspace["root"], capsys, monkeypatch)
    assert_one_line_error(out, words.format(**fill))


def test_the_traceback_variable_shows_the_traceback(workspace):
    out = subprocess.run([sys.executable, "-m", "robustloss.cli", "tables", str(workspace["empty"])],
                         cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "ROBUSTLOSS_TRACEBACK": "1"})
    assert out.returncode != 0 and "Traceback" in out.stderr and "UserError" in out.stderr
