"""scripts/auto_parameter_check.py, the measurement behind the README's automatic-gamma
tables: one small case end to end (digits, class-dependent noise, where the two automatic
rules pick different values), its cache and its summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from robustloss.find.choose import NoiseEstimate, estimate_noise, unsure_share
from robustloss.find.core import FindSettings

from .conftest import REPO

ARGS = ["--datasets", "digits", "--kinds", "asymmetric", "--rates", "0.3", "--seeds", "0",
        "--losses", "blurry", "--methods", "noise_estimate,noise_structure,confusion_gate", "--grid", "0.5",
        "--digits-subset", "900"]  # half of digits: the test's four passes in half the time


def check(out, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / "auto_parameter_check.py"),
                           *ARGS, "--out", str(out), *extra], capture_output=True, text=True,
                          timeout=600, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_each_rule_runs_its_own_pass_and_a_rerun_reads_the_cache(tmp_path):
    first = check(tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    rows = [json.loads(line) for line in (tmp_path / "passes.jsonl").read_text().splitlines()]
    ce = next(row for row in rows if row["loss"] == "ce")
    noise = NoiseEstimate(ce["eta_hat"], ce["flip"], ce["unsure"])
    kept = np.load(tmp_path / "ce_passes" / "digits_asymmetric_0.3_0_900.npz")  # for later readings
    kept_noise = estimate_noise(kept["labels"], kept["probs"])
    assert (kept_noise.rate, kept_noise.flip) == pytest.approx((noise.rate, noise.flip))
    assert kept["corrupted"].sum() > 0 and len(kept["labels"]) == 900
    assert ce["unsure"] == unsure_share(kept["probs"])
    chosen = {method: FindSettings(auto_by=method).loss_params(noise)["gamma"]
              for method in ("noise_estimate", "noise_structure", "confusion_gate")}
    assert chosen["noise_structure"] > chosen["noise_estimate"] + 0.2  # pairs: a larger gamma
    gammas = sorted(row["params"]["gamma"] for row in rows if row["loss"] == "blurry")
    assert gammas == sorted({0.5, *chosen.values()})                 # one pass each, no more
    summary = pd.read_csv(tmp_path / "auto_vs_best.csv").iloc[0]
    assert summary["best grid value"] == 0.5
    for method, gamma in chosen.items():
        row = next(r for r in rows if r["loss"] == "blurry" and r["params"]["gamma"] == gamma)
        assert summary[f"{method} value"] == gamma
        assert summary[f"{method} gap"] == pytest.approx(summary["best grid F1"] - row["f1"])
    listed = pd.read_csv(tmp_path / "passes.csv")
    assert len(listed[listed.auto.isna()]) == len(rows)              # each cached pass once
    assert set(listed.loc[listed.auto.notna(), "auto"]) == set(chosen)
    assert listed.loc[listed.loss == "ce", "gamma"].isna().all()
    assert sorted(listed.loc[listed.auto.isna() & (listed.loss == "blurry"), "gamma"]) == gammas
    again = check(tmp_path)                                          # everything cached
    assert again.returncode == 0, again.stderr[-2000:]
    assert len((tmp_path / "passes.jsonl").read_text().splitlines()) == len(rows)
    assert "F1" not in again.stdout.split("| dataset")[0]            # no pass printed
    cache = tmp_path / "passes.jsonl"                                # a CE row cached before
    cache.write_text("".join(json.dumps({k: v for k, v in row.items() if k != "unsure"}) + "\n"
                             for row in rows))                       # the unsure share was read
    filled = check(tmp_path)
    assert filled.returncode == 0, filled.stderr[-2000:]
    assert "F1" not in filled.stdout.split("| dataset")[0]           # read off the kept pass
    latest = {}
    for line in cache.read_text().splitlines():
        latest[json.loads(line)["key"]] = json.loads(line)
    assert latest[ce["key"]]["unsure"] == ce["unsure"]
    before = cache.read_text()                                       # seed 1 is not cached:
    summary_only = check(tmp_path, "--seeds", "0,1", "--cached-only")  # no pass runs for it
    assert summary_only.returncode == 0, summary_only.stderr[-2000:]
    assert cache.read_text() == before
    assert "digits asymmetric 0.3 1: no cross-entropy pass cached, left out" in summary_only.stdout
    cached = pd.read_csv(tmp_path / "auto_vs_best.csv").iloc[0]
    assert cached["best grid value"] == 0.5 and cached["noise_structure seeds"] == 1
    assert cached["noise_structure value"] == chosen["noise_structure"]


def test_the_summary_scores_planting_per_scoring_rule_and_leaves_out_unlabelled_rows(tmp_path,
                                                                                   load_script):
    """planting_draw / planting_all rows are summarised each under its own name; a row
    labelled plain "planting" (earlier runs stored their day's default under it) is not
    counted under either; a run over one seed compares that seed's grid passes only."""
    script = load_script("auto_parameter_check")
    case = {"dataset": "digits", "subset": None, "rate": 0.2, "kind": "asymmetric",
            "loss": "blurry", "protocol": "paper"}
    rows = []
    for seed in (0, 1):
        rows += [{**case, "seed": seed, "params": {"gamma": 0.2}, "f1": 0.80 + seed / 100},
                 {**case, "seed": seed, "params": {"gamma": 0.6}, "f1": 0.90 + seed / 100},
                 {**case, "seed": seed, "params": {"gamma": 0.6}, "f1": 0.90 + seed / 100,
                  "auto": "planting_draw"},
                 {**case, "seed": seed, "params": {"gamma": 0.2}, "f1": 0.80 + seed / 100,
                  "auto": "planting_all"},
                 {**case, "seed": seed, "params": {"gamma": 0.4}, "f1": 0.5, "auto": "planting"}]
    done = {str(i): row for i, row in enumerate(rows)}
    script.summarise(done, tmp_path, {"blurry": [0.2, 0.6]})
    line = pd.read_csv(tmp_path / "auto_vs_best.csv").iloc[0]
    assert line["best grid value"] == 0.6 and line["best grid F1"] == pytest.approx(0.905)
    assert line["planting_draw value"] == 0.6 and line["planting_draw gap"] == pytest.approx(0)
    assert line["planting_all value"] == 0.2 and line["planting_all gap"] == pytest.approx(0.1)
    assert line["planting_draw seeds"] == line["planting_all seeds"] == 2
    assert not any(column.startswith("planting ") for column in line.index)
    script.summarise(done, tmp_path, {"blurry": [0.2, 0.6]}, seeds={1})   # one seed's run
    line = pd.read_csv(tmp_path / "auto_vs_best.csv").iloc[0]
    assert line["best grid F1"] == pytest.approx(0.91) and line["planting_draw seeds"] == 1
    other = {**case, "rate": 0.3, "seed": 0, "params": {"gamma": 0.7}, "f1": 0.7}
    done |= {"other grid": other, "other auto": {**other, "auto": "noise_structure"}}
    script.summarise(done, tmp_path, {"blurry": [0.2, 0.6]})  # eta 0.3 has no pass on this grid
    table = pd.read_csv(tmp_path / "auto_vs_best.csv")
    assert list(table.eta) == [0.2]


def test_a_summary_of_grid_passes_alone_says_so(tmp_path, load_script, capsys):
    """--methods "": the grid passes are cached, and the summary has no method to compare."""
    script = load_script("auto_parameter_check")
    row = {"dataset": "digits", "subset": None, "rate": 0.2, "kind": "asymmetric", "seed": 0,
           "loss": "blurry", "protocol": "paper", "params": {"gamma": 0.2}, "f1": 0.8}
    script.summarise({"a": row}, tmp_path, {"blurry": [0.2]})
    assert "no automatic method ran" in capsys.readouterr().out
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
            "c": {**row, "params": {"gamma": 0.2}, "auto": "confusion_gate"}}
    script.summarise(done, tmp_path, {"blurry": [0.2, 0.4]})
    line = pd.read_csv(tmp_path / "auto_vs_best.csv").iloc[0]
    assert line["best grid value"] == 0.2 and line["best grid F1"] == pytest.approx(0.8)


def test_the_pass_noise_check_retrains_the_same_labels(tmp_path, load_script):
    """scripts/pass_noise_check.py on half of digits: each training seed is a pass of its own
    on the same noisy labels, the table's mean and spread are those of the cached passes, and
    a rerun reads the cache."""
    def run():
        return subprocess.run(
            [sys.executable, str(REPO / "scripts" / "pass_noise_check.py"), "--dataset", "digits",
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
