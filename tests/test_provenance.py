"""Provenance is taken when a run starts, and ``dirty`` means modified *source*: a record
names the commit it started on even when the checkout moves on while it trains, and
untracked results beside the source do not make it dirty. Real git, real (tiny) training."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import torch

import robustloss.experiments.experiment as experiment
import robustloss.experiments.provenance as provenance
from robustloss.experiments.experiment import ExperimentSettings, run_and_record

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(root, *args):
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path):
    """A committed checkout of the package's shape: src/robustloss, conf/, pyproject.toml."""
    root = tmp_path / "checkout"
    (root / "src" / "robustloss").mkdir(parents=True)
    (root / "conf").mkdir()
    (root / "src" / "robustloss" / "__init__.py").write_text("VERSION = 1\n")
    (root / "conf" / "config.yaml").write_text("seed: 0\n")
    (root / "pyproject.toml").write_text("[project]\nname = 'robustloss'\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    return root


def commit_all(root, message):
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)
    return git(root, "rev-parse", "HEAD")


def test_untracked_results_beside_the_source_do_not_make_it_dirty(checkout):
    package = checkout / "src" / "robustloss"
    assert provenance.git_commit(package) == {"commit": git(checkout, "rev-parse", "HEAD"),
                                              "dirty": False}
    (checkout / "results" / "paper").mkdir(parents=True)
    (checkout / "results" / "paper" / "0123.json").write_text("{}")
    (checkout / "notes.txt").write_text("scratch")
    assert provenance.git_commit(package)["dirty"] is False
    (package / "new_module.py").write_text("x = 1\n")  # an untracked source file runs too
    assert provenance.git_commit(package)["dirty"] is True
    (package / "new_module.py").unlink()
    (checkout / "conf" / "config.yaml").write_text("seed: 1\n")  # a modified config
    assert provenance.git_commit(package)["dirty"] is True


def test_a_package_inside_another_repository_is_no_checkout(tmp_path):
    package = tmp_path / "project" / "venv" / "site-packages" / "robustloss"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    git(tmp_path / "project", "init", "-q")
    assert provenance.source_root(package) is None
    assert provenance.git_commit(package) == {"commit": None, "dirty": None}


def test_the_record_names_the_commit_it_started_on(checkout, monkeypatch, tmp_path):
    """The checkout moves on (a new commit, an edited source file) while the run trains: the
    record keeps the commit of its start and says that the source changed under it."""
    monkeypatch.setattr(provenance, "PACKAGE_DIR", checkout / "src" / "robustloss")
    started_on = git(checkout, "rev-parse", "HEAD")
    real_judge, moved = experiment.judge, []

    def judge_while_the_checkout_moves(*args, **kwargs):
        (checkout / "src" / "robustloss" / "__init__.py").write_text("VERSION = 2\n")
        moved.append(commit_all(checkout, "second"))
        return real_judge(*args, **kwargs)

    monkeypatch.setattr(experiment, "judge", judge_while_the_checkout_moves)
    settings = ExperimentSettings.from_dict({
        "dataset": {"name": "digits", "subset": 300}, "loss": {"name": "ce"},
        "noise": {"rate": 0.2}, "train": {"epochs": 1, "lr": 3e-3}, "folds": 2, "seed": 0})
    record, ran = run_and_record(settings, tmp_path / "results", progress=False,
                                 overrides=["loss=ce"])
    stamp = record["provenance"]
    assert ran and moved and moved[0] != started_on
    assert stamp["commit"] == started_on and stamp["dirty"] is False
    assert stamp["source_changed_during_run"] is True and stamp["overrides"] == ["loss=ce"]
    assert stamp["started"] <= record["created"]

    monkeypatch.setattr(experiment, "judge", real_judge)  # a run on the new commit, untouched
    again, _ = run_and_record(settings, tmp_path / "results", force=True, progress=False)
    assert again["provenance"]["commit"] == moved[0]
    assert again["provenance"]["source_changed_during_run"] is False


CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx avx2 avx512f avx512_bf16 amx_bf16 amx_tile
"""


def test_the_cpu_is_named_with_the_flags_that_decide_its_arithmetic():
    assert provenance.describe_cpu(CPUINFO) == {
        "model": "Intel(R) Xeon(R) Platinum 8480+",
        "flags": ["amx_bf16", "avx512_bf16", "avx512f", "avx2"]}
    here = provenance.describe_cpu()
    assert here["model"] and set(here["flags"]) <= set(provenance.ARITHMETIC_FLAGS)
    # torch's own dispatch (oneDNN / ATen) as the oracle: AVX2 kernels need the avx2 flag,
    # AVX512 kernels avx512f
    capability = torch.backends.cpu.get_cpu_capability()
    if capability in ("AVX2", "AVX512"):
        assert "avx2" in here["flags"]
    if capability == "AVX512":
        assert "avx512f" in here["flags"]


def test_tables_say_which_records_came_from_modified_source(checkout, monkeypatch, tmp_path):
    """`robustloss tables` opens with one line: how many records, from which commits, how
    many from modified source (named), on which CPUs; an old record (commit stamped at the
    end, no CPU) is reported as such, never counted as clean."""
    import json

    from robustloss.reporting.tables import write_tables

    monkeypatch.setattr(provenance, "PACKAGE_DIR", checkout / "src" / "robustloss")
    results = tmp_path / "results"

    def run(seed):
        settings = ExperimentSettings.from_dict({
            "dataset": {"name": "digits", "subset": 300}, "loss": {"name": "ce"},
            "noise": {"rate": 0.2}, "train": {"epochs": 1, "lr": 3e-3}, "folds": 2, "seed": seed})
        return run_and_record(settings, results, progress=False)[0]

    clean = run(0)
    (checkout / "src" / "robustloss" / "__init__.py").write_text("VERSION = 3\n")
    modified = run(1)
    old = run(2)
    path = results / f"{old['id']}.json"
    legacy = {k: v for k, v in old.items() if k != "provenance"}
    legacy["git"] = {"commit": "f9043490c21fbffaa3365950e51f6ac05bfc1c2a", "dirty": True}
    path.write_text(json.dumps(legacy))

    line = write_tables(results).splitlines()[0]
    cpu = provenance.describe_cpu()
    head = clean["provenance"]["commit"][:7]
    assert line.startswith(f"Records: 3 records from 2 commits ({head} ×2, f904349 ×1)"), line
    assert f"clean 1; modified source 1 ({modified['id']}); stamped at the end 1" in line, line
    assert f"{cpu['model']} ({' '.join(cpu['flags']) or 'no avx2'}) ×2" in line
    assert "CPU not recorded ×1" in line
    saved = (results / "tables" / "provenance.csv").read_text()
    assert modified["id"] in saved and "modified source" in saved
