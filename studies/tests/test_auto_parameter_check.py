"""studies/auto_parameter_check.py, the measurement of the automatic gamma against the grid:
one small case end to end (digits, class-dependent noise), its cache and its summary; and
studies/pass_noise_check.py, one pass's spread under the training seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from robustloss.find.choose import NoiseEstimate, choose_parameter, estimate_noise

STUDIES = Path(__file__).resolve().parents[1]
REPO = STUDIES.parent
ARGS = ["--datasets", "digits", "--kinds", "asymmetric", "--rates", "0.3", "--seeds", "0",
        "--grid", "0.5", "--digits-subset", "900"]  # half of digits: three passes in half the time


def check(out, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(STUDIES / "auto_parameter_check.py"),
                           *ARGS, "--out", str(out), *extra], capture_output=True, text=True,
                          timeout=600, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_the_automatic_value_runs_its_own_pass_and_a_rerun_reads_the_cache(tmp_path):
    first = check(tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    rows = [json.loads(line) for line in (tmp_path / "passes.jsonl").read_text().splitlines()]
    ce = next(row for row in rows if row["loss"] == "ce")
    noise = NoiseEstimate(ce["eta_hat"], ce["flip"])
    kept = np.load(tmp_path / "ce_passes" / "digits_asymmetric_0.3_0_900.npz")  # for later readings
    kept_noise = estimate_noise(kept["labels"], kept["probs"])
    assert (kept_noise.rate, kept_noise.flip) == pytest.approx((noise.rate, noise.flip))
    assert kept["corrupted"].sum() > 0 and len(kept["labels"]) == 900
    chosen = choose_parameter("blurry", noise).value
    gammas = sorted(row["params"]["gamma"] for row in rows if row["loss"] == "blurry")
    assert gammas == sorted({0.5, chosen})                          # one pass each, no more
    summary = pd.read_csv(tmp_path / "auto_vs_best.csv").iloc[0]
    assert summary["best grid value"] == 0.5 and summary["auto value"] == chosen
    row = next(r for r in rows if r["loss"] == "blurry" and r["params"]["gamma"] == chosen)
    assert summary["auto gap"] == pytest.approx(summary["best grid F1"] - row["f1"])
    listed = pd.read_csv(tmp_path / "passes.csv")
    assert len(listed[listed.auto.isna()]) == len(rows)              # each cached pass once
    assert set(listed.loc[listed.auto.notna(), "auto"]) == {"noise_structure"}
    assert listed.loc[listed.loss == "ce", "gamma"].isna().all()
    again = check(tmp_path)                                          # everything cached
    assert again.returncode == 0, again.stderr[-2000:]
    assert len((tmp_path / "passes.jsonl").read_text().splitlines()) == len(rows)
    assert "F1" not in again.stdout.split("| dataset")[0]            # no pass printed
    cache = tmp_path / "passes.jsonl"
    before = cache.read_text()                                       # seed 1 is not cached:
    summary_only = check(tmp_path, "--seeds", "0,1", "--cached-only")  # no pass runs for it
    assert summary_only.returncode == 0, summary_only.stderr[-2000:]
    assert cache.read_text() == before
    assert "digits asymmetric 0.3 1: no cross-entropy pass cached, left out" in summary_only.stdout
    cached = pd.read_csv(tmp_path / "auto_vs_best.csv").iloc[0]
    assert cached["best grid value"] == 0.5 and cached["auto seeds"] == 1
    assert cached["auto value"] == chosen


def test_the_summary_leaves_out_rows_of_deleted_rules_and_other_seeds(tmp_path, load_script):
    """Caches hold rows of the rules deleted since (confusion_gate, planting_draw, ...): the
    summary counts only the kept rule's; a run over one seed compares that seed's grid
    passes only; a case with no pass on the grid asked for is left out."""
    script = load_script("auto_parameter_check")
    case = {"dataset": "digits", "subset": None, "rate": 0.2, "kind": "asymmetric",
            "loss": "blurry", "protocol": "paper"}
    rows = []
    for seed in (0, 1):
        rows += [{**case, "seed": seed, "params": {"gamma": 0.2}, "f1": 0.80 + seed / 100},
                 {**case, "seed": seed, "params": {"gamma": 0.6}, "f1": 0.90 + seed / 100},
                 {**case, "seed": seed, "params": {"gamma": 0.45}, "f1": 0.88 + seed / 100,
                  "auto": "noise_structure"},
                 {**case, "seed": seed, "params": {"gamma": 0.7}, "f1": 0.99, "auto": "confusion_gate"},
                 {**case, "seed": seed, "params": {"gamma": 0.4}, "f1": 0.5, "auto": "planting_draw"}]
    done = {str(i): row for i, row in enumerate(rows)}
    script.summarise(done, tmp_path, {"blurry": [0.2, 0.6]})
    line = pd.read_csv(tmp_path / "auto_vs_best.csv").iloc[0]
    assert line["best grid value"] == 0.6 and line["best grid F1"] == pytest.approx(0.905)
    assert line["auto value"] == 0.45 and line["auto gap"] == pytest.approx(0.02)
    assert line["auto seeds"] == 2 and not any("gate" in c or "planting" in c for c in line.index)
    script.summarise(done, tmp_path, {"blurry": [0.2, 0.6]}, seeds={1})   # one seed's run
    line = pd.read_csv(tmp_path / "auto_vs_best.csv").iloc[0]
    assert line["best grid F1"] == pytest.approx(0.91) and line["auto seeds"] == 1
    other = {**case, "rate": 0.3, "seed": 0, "params": {"gamma": 0.7}, "f1": 0.7}
    done |= {"other grid": other, "other auto": {**other, "auto": "noise_structure"}}
    script.summarise(done, tmp_path, {"blurry": [0.2, 0.6]})  # eta 0.3 has no pass on this grid
    table = pd.read_csv(tmp_path / "auto_vs_best.csv")
    assert list(table.eta) == [0.2]


def test_a_summary_of_grid_passes_alone_says_so(tmp_path, load_script, capsys):
    """--no-auto: the grid passes are cached, and the summary has nothing to compare."""
    script = load_script("auto_parameter_check")
    row = {"dataset": "digits", "subset": None, "rate": 0.2, "kind": "asymmetric", "seed": 0,
           "loss": "blurry", "protocol": "paper", "params": {"gamma": 0.2}, "f1": 0.8}
    script.summarise({"a": row}, tmp_path, {"blurry": [0.2]})
    assert "the automatic value ran in no case" in capsys.readouterr().out
    assert not (tmp_path / "auto_vs_best.csv").exists()


def test_a_retrained_pass_has_its_own_key_and_stays_out_of_the_summary(tmp_path, load_script):
    """A pass trained with another seed than its noise's (pass_noise_check) is cached under
    its own key and its own kept file; one trained with the noise's seed keeps the key the
    check's passes were cached under; the summary's grid leaves retrained passes out."""
    script = load_script("auto_parameter_check")
    case = dict(dataset="digits", subset=None, rate=0.2, seed=0, kind="asymmetric",
                data=None, corrupted=None)
    plain, same, other = (script.Case(**case), script.Case(**case, train_seed=0),
                          script.Case(**case, train_seed=3))
    assert same.key("blurry", {"gamma": 0.2}) == plain.key("blurry", {"gamma": 0.2})
    assert other.key("blurry", {"gamma": 0.2}) != plain.key("blurry", {"gamma": 0.2})
    assert (same.kept_name(), other.model_seed) == (plain.kept_name(), 3)
    assert other.kept_name() != plain.kept_name()
    row = {"dataset": "digits", "subset": None, "rate": 0.2, "kind": "asymmetric", "seed": 0,
           "loss": "blurry", "protocol": "paper", "f1": 0.8}
    done = {"a": {**row, "params": {"gamma": 0.2}, "train_seed": 0},
            "b": {**row, "params": {"gamma": 0.4}, "f1": 0.95, "train_seed": 3},
            "c": {**row, "params": {"gamma": 0.2}, "auto": "noise_structure"}}
    script.summarise(done, tmp_path, {"blurry": [0.2, 0.4]})
    line = pd.read_csv(tmp_path / "auto_vs_best.csv").iloc[0]
    assert line["best grid value"] == 0.2 and line["best grid F1"] == pytest.approx(0.8)


def test_the_pass_noise_check_retrains_the_same_labels(tmp_path, load_script):
    """studies/pass_noise_check.py on half of digits: each training seed is a pass of its own
    on the same noisy labels, the table's mean and spread are those of the cached passes, and
    a rerun reads the cache."""
    def run():
        return subprocess.run(
            [sys.executable, str(STUDIES / "pass_noise_check.py"), "--dataset", "digits",
             "--subset", "900", "--kind", "asymmetric", "--rate", "0.3", "--grid", "0.5",
             "--train-seeds", "0,1", "--out", str(tmp_path)],
            capture_output=True, text=True, timeout=600, cwd=REPO,
            env={**os.environ, "OMP_NUM_THREADS": "1"})
    first = run()
    assert first.returncode == 0, first.stderr[-2000:]
    rows = [json.loads(line) for line in (tmp_path / "passes.jsonl").read_text().splitlines()]
    assert sorted(row["train_seed"] for row in rows) == [0, 0, 1, 1]   # BL and CE each
    assert {row["seed"] for row in rows} == {0} and len({row["key"] for row in rows}) == 4
    kept = [np.load(tmp_path / "ce_passes" / name) for name in
            ("digits_asymmetric_0.3_0_900.npz", "digits_asymmetric_0.3_0_900_train1.npz")]
    assert (kept[0]["labels"] == kept[1]["labels"]).all()               # the same labels,
    assert not np.allclose(kept[0]["probs"], kept[1]["probs"])          # another training
    rows = [row for row in rows if row["loss"] == "blurry"]
    f1 = [row["f1"] for row in sorted(rows, key=lambda row: row["train_seed"])]
    table = pd.read_csv(tmp_path / "pass_noise.csv").iloc[0]
    assert table["setting"] == "blurry, gamma 0.5"
    assert [table["F1, training seed 0"], table["F1, training seed 1"]] == pytest.approx(f1)
    assert table["mean"] == pytest.approx(np.mean(f1))
    assert table["sd"] == pytest.approx(np.std(f1, ddof=1))
    again = run()
    assert again.returncode == 0 and "F1 0." not in again.stdout.split("# ")[0]
    assert len((tmp_path / "passes.jsonl").read_text().splitlines()) == 4


def test_the_winners_curse_is_the_best_single_pass_against_the_best_mean(load_script):
    script = load_script("pass_noise_check")
    rows = pd.DataFrame({"loss": "blurry", "value": [0.2, 0.4, 0.2, 0.4],
                         "train_seed": [0, 0, 1, 1], "f1": [0.90, 0.80, 0.80, 0.85]})
    curse = script.winners_curse(rows, "blurry")
    assert curse["best single pass, mean over training seeds"] == pytest.approx(0.875)
    assert curse["best seed-mean value"] == pytest.approx(0.85)          # gamma 0.2: 0.85
    assert curse["gamma of the best single pass, per training seed"] == [0.2, 0.4]
