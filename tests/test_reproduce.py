"""robustloss reproduce: the table sweeps end to end (smoke mode), the noise-kinds sweep, and
its refusal to start when data is missing."""

import os
import subprocess
import sys

import pytest

from robustloss.records import find_records

from .conftest import REPO


def reproduce(*args, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "robustloss.cli", "reproduce", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))


def test_smoke_table1_on_digits_runs_every_family_and_prints_both_tables(tmp_path):
    out = reproduce("table1", "--smoke", "--datasets", "digits", "--rates", "0.2",
                    "--results", str(tmp_path), "--", "train.lr=3e-3")
    assert out.returncode == 0, out.stderr[-3000:]
    records = find_records(tmp_path)
    assert sorted(r["settings"]["loss"]["name"] for r in records) == sorted(
        ["ce", "focal", "gce", "anl_ce", "anl_fl", "blurry", "piecewise_zero"])
    assert {r["settings"]["dataset"]["subset"] for r in records} == {1000}
    assert {r["settings"]["folds"] for r in records} == {3}
    for title in ("### F1 (confident_learning)", "### balanced accuracy (confident_learning)"):
        assert title in out.stdout
    assert "(γ=0.4)" in out.stdout and "(c=0.1)" in out.stdout
    assert (tmp_path / "tables" / "records.csv").exists()
    # a second run resumes: every family is complete, so no sweep is launched at all
    again = reproduce("table1", "--smoke", "--datasets", "digits", "--rates", "0.2",
                      "--results", str(tmp_path), "--", "train.lr=3e-3")
    assert again.returncode == 0
    assert again.stdout.count("0 experiment(s) without a record") == 3
    assert "+ -m robustloss.run" not in again.stdout
    assert find_records(tmp_path) == records


def test_full_run_with_missing_data_starts_nothing(tmp_path):
    out = reproduce("table3", "--results", str(tmp_path / "r"),
                    env={"ROBUSTLOSS_DATA": str(tmp_path / "empty")}, timeout=120)
    assert out.returncode == 2
    assert "cannot read cifar100_cleaned_test" in out.stderr and "nothing was started" in out.stderr
    assert not list((tmp_path / "r").glob("*"))  # checked writable, nothing written


def test_smoke_skips_missing_datasets_and_says_so(tmp_path):
    out = reproduce("table4", "--smoke", "--results", str(tmp_path / "r"),
                    env={"ROBUSTLOSS_DATA": str(tmp_path / "empty")}, timeout=120)
    assert out.returncode == 2
    assert out.stderr.count("skipping cifar") == 3 and "nothing to run" in out.stderr


def test_data_check_honours_dataset_overrides(tmp_path):
    from robustloss.cli.reproduce import check_datasets as check

    from .fake_files import write_fake_cifar10

    write_fake_cifar10(tmp_path)
    assert "cifar10" in check(["cifar10"], [f"dataset.root={tmp_path}"])  # fails the MD5 check
    assert check(["cifar10", "digits"], [f"dataset.root={tmp_path}", "dataset.verify=false"]) == {}


@pytest.mark.slow  # 100 s; the noise kinds' records and tables are covered by test_noise_kinds
def test_noise_kinds_smoke_sweeps_each_kind_and_tables_show_the_realised_rate(tmp_path):
    out = reproduce("noise_kinds", "--smoke", "--kinds", "asymmetric,instance", "--rates", "0.4",
                    "--detectors", "confident_learning", "--results", str(tmp_path), "--",
                    "dataset.subset=300")
    assert out.returncode == 0, out.stderr[-3000:]
    records = find_records(tmp_path)
    assert len(records) == 2 * 7  # two kinds x the seven losses
    kinds = {r["noise"]["kind"]: r["noise"]["rate_realised"] for r in records}
    assert kinds["instance"] == 0.4 and 0.1 < kinds["asymmetric"] < 0.3  # 5 of 10 classes flip
    assert all(sum(map(sum, r["noise"]["transitions"])) == 300 for r in records)
    assert "asymmetric | 0.4 (realised 0.2" in out.stdout and "instance   | 0.4 (realised 0.40)" in out.stdout
