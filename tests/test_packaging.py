"""The package as a pip user gets it: a wheel installed into a fresh virtual environment, used
from a folder outside the repository (the configs come from inside the package)."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from robustloss.data import load

from .conftest import REPO


def test_every_subpackage_is_listed_for_the_wheel():
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml")
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO / "src").parts)
             for p in (REPO / "src").rglob("__init__.py")}
    config_groups = {f"robustloss.conf.{group.name}" for group in (REPO / "conf").iterdir()
                     if group.is_dir() and any(group.glob("*.yaml"))}
    assert found | {"robustloss.conf"} | config_groups == listed


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python of a fresh venv holding only the robustloss wheel, a folder outside the repo).
    The dependencies come from this interpreter's site-packages, read as plain paths (so the
    editable install of the checkout is not among them)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"  # a copy of the tracked tree: the build leaves nothing in the checkout
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    if not tracked:  # not a git checkout: everything but the usual build and run products
        shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
            ".venv", ".git", "results", "outputs", "build", "*.egg-info", "__pycache__"))
    for name in tracked:
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                            "-w", str(root / "dist"), str(source)], capture_output=True, text=True,
                           timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    wheel = next((root / "dist").glob("robustloss-*.whl"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "outer_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                              "--no-deps", "--no-index", str(wheel)], capture_output=True, text=True,
                             timeout=300)
    assert install.returncode == 0, install.stderr[-2000:]
    work = root / "elsewhere"
    work.mkdir()
    return python, work


def robustloss(installed, *args, timeout=600):
    python, work = installed
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ROBUSTLOSS_CONFIG_DIR")}
    return subprocess.run([str(python.parent / "robustloss"), *map(str, args)], cwd=work,
                          capture_output=True, text=True, timeout=timeout,
                          env={**env, "OMP_NUM_THREADS": "1"})


def test_the_wheel_holds_the_configs_and_runs_from_elsewhere(installed):
    python, work = installed
    where = subprocess.run([str(python), "-c", "import robustloss, importlib.resources as r; "
                            "print(robustloss.__file__); print(r.files('robustloss.conf'))"],
                           cwd=work, capture_output=True, text=True, check=True).stdout.split()
    assert all(str(python.parents[1]) in path for path in where)  # inside the venv, not the repo
    assert robustloss(installed, "--version").stdout.startswith("robustloss 0.2.0")
    run = robustloss(installed, "run", "dataset=digits", "dataset.subset=300", "train.epochs=1",
                     "folds=2", "loss=blurry", "loss.gamma=0.4", "noise.rate=0.2", "seed=0",
                     "results_dir=results", "progress=false")
    assert run.returncode == 0, run.stderr[-3000:]
    record = json.loads(next((work / "results").glob("*.json")).read_text())
    stamp = record["provenance"]  # an installed package has no checkout: no commit claimed
    assert stamp["commit"] is None and stamp["versions"]["robustloss"] == "0.2.0"
    tables = robustloss(installed, "tables", "results")
    assert tables.returncode == 0 and "| digits (n=300) | 0.2" in tables.stdout
    assert "1 record from 1 commit (no commit ×1); no checkout 1" in tables.stdout
    figures = robustloss(installed, "figures", "results", "--only", "1")
    assert figures.returncode == 0 and (work / "results" / "figures" / "fig1_loss_shapes.png").exists()
    # the README's API example names the same experiment
    api = subprocess.run([str(python), "-c", (
        "import robustloss\n"
        "from robustloss.experiments.settings import ExperimentSettings\n"
        "a = robustloss.compose(['dataset=digits', 'dataset.subset=300', 'train.epochs=1', 'folds=2',"
        " 'loss=blurry', 'loss.gamma=0.4', 'noise.rate=0.2', 'seed=0'])\n"
        "b = ExperimentSettings.from_dict({'dataset': {'name': 'digits', 'subset': 300},"
        " 'train': {'epochs': 1}, 'folds': 2, 'loss': {'name': 'blurry', 'gamma': 0.4},"
        " 'noise': {'rate': 0.2}, 'seed': 0})\n"
        "print(a.id, b.id)")], cwd=work, capture_output=True, text=True, timeout=300)
    assert api.returncode == 0, api.stderr[-2000:]
    assert api.stdout.split() == [record["id"], record["id"]]


def test_find_issues_and_a_users_own_dataset_config(installed):
    python, work = installed
    digits = load("digits")
    labels = digits.labels[:400].copy()
    labels[:20] = (labels[:20] + 3) % 10
    np.savez(work / "mine.npz", images=digits.images[:400, 0].numpy(), labels=labels)
    found = robustloss(installed, "find-issues", "mine.npz", "--gamma", "0.4", "--epochs", "3",
                       "--folds", "3", "--out", "found", "--quiet")
    assert found.returncode == 0, found.stderr[-2000:]
    assert (work / "found" / "report.html").exists()
    saved = json.loads((work / "found" / "find_issues.json").read_text())
    from robustloss.find.core import FindSettings  # the default protocol, through the CLI
    assert saved["model"] == FindSettings(folds=3, epochs=3).describe_model("images")
    assert saved["settings"]["protocol"] == "paper"
    # a dataset config of one's own, in one's own folder (README: "Your own configs")
    (work / "myconf" / "dataset").mkdir(parents=True)
    (work / "myconf" / "dataset" / "mine.yaml").write_text(
        "# @package _global_\n"
        f"dataset: {{name: arrays, path: {work / 'mine.npz'}, num_classes: 10, subset: null}}\n"
        "train: {lr: 3.0e-3, inputs: unit, epochs: 2}\nfolds: 3\n")
    for how in (["--config-dir", "myconf"], [f"hydra.searchpath=[file://{work / 'myconf'}]"]):
        out = robustloss(installed, "run", *how, "dataset=mine", "noise.rate=0.1",
                         "results_dir=own", "progress=false", "force=true")
        assert out.returncode == 0, out.stderr[-2000:]
        assert "arrays" in out.stderr + out.stdout and "F1" in out.stderr + out.stdout
