"""`robustloss find-issues` and `robustloss.find_label_issues`: a practitioner's data (an
image folder, a feature table) with errors planted on purpose, the automatic gamma, the
outputs, the HTML report in a real browser, and bad inputs."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import robustloss
from robustloss.components.noise import corrupt
from robustloss.data import load
from robustloss.errors import UserError
from robustloss.find import core as find_core
from robustloss.find.choose import (
    GATED_LARGEST,
    LARGEST,
    SPREAD_RATIO,
    UNSURE_GATE,
    NoiseEstimate,
    best_values,
    estimate_noise,
    estimate_noise_rate,
    parameter_for_confusion,
    parameter_for_confusion_cap,
    parameter_for_confusion_spread,
    parameter_for_confusion_spread_only,
    parameter_for_noise,
    parameter_for_structure,
    unsure_share,
)
from robustloss.find.core import FindSettings
from robustloss.find.inputs import UserData, load_user_data
from robustloss.find.planting import CANDIDATES, choose_by_planting, plant, recovery_f1

from .conftest import REPO
from .debian import ensure_installed

CLASS_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
PLANTED = 40


def planted_digits(seed=0):
    """digits with PLANTED labels moved to another class; (images (N, 8, 8) uint8, labels,
    indices of the planted errors)."""
    data = load("digits")
    labels = data.labels.copy()
    rng = np.random.default_rng(seed)
    wrong = rng.choice(len(labels), PLANTED, replace=False)
    labels[wrong] = (labels[wrong] + rng.integers(1, 10, PLANTED)) % 10
    return data.images.numpy()[:, 0], labels, wrong


def write_folder(root: Path, images, labels) -> Path:
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / CLASS_NAMES[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"digit_{i:04d}.png")
    return root


def robustloss_cli(*args, cwd=REPO, timeout=600):
    return subprocess.run([sys.executable, "-m", "robustloss.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """find-issues on an ImageFolder of digits with 40 planted errors (automatic gamma)."""
    tmp = tmp_path_factory.mktemp("find")
    images, labels, wrong = planted_digits()
    folder = write_folder(tmp / "digits", images, labels)
    out = tmp / "out"
    run = robustloss_cli("find-issues", folder, "--out", out, "--review", 12, "--quiet",
                         "--protocol", "paper")  # the default protocol: test_protocols_*
    assert run.returncode == 0, run.stderr[-3000:]
    return {"out": out, "stdout": run.stdout, "folder": folder,
            "wrong": {f"{CLASS_NAMES[labels[i]]}/digit_{i:04d}.png" for i in wrong}}


def test_image_folder_finds_the_planted_errors(folder_run):
    out = folder_run["out"]
    table = pd.read_csv(out / "label_issues.csv")
    assert len(table) == 1797 and table["rank"].tolist() == list(range(1, 1798))
    assert table["label_quality"].is_monotonic_increasing
    assert set(table["given_label"]) == set(CLASS_NAMES)          # class names, not codes
    flagged = set(table.loc[table.flagged, "sample"])
    caught = flagged & folder_run["wrong"]
    assert len(caught) >= 30, len(caught)                         # of 40 planted
    assert len(caught) / len(flagged) >= 0.75                     # few clean ones flagged
    assert len(set(table.head(PLANTED)["sample"]) & folder_run["wrong"]) >= 30
    # no synthetic-noise metrics: the corruption of real data is unknown
    assert "f1" not in folder_run["stdout"].lower() and "balanced" not in folder_run["stdout"].lower()
    assert f"{len(flagged)} of 1797 flagged" in folder_run["stdout"]
    review = pd.read_csv(out / "review.csv")
    assert review.equals(table.head(12))
    saved = json.loads((out / "find_issues.json").read_text())
    assert saved["settings"]["gamma"] == "auto" and saved["choice"]["by"] == "confusion_spread_only"
    eta = saved["estimated_noise_rate"]
    assert abs(eta - PLANTED / 1797) < 0.02                             # 2.2% planted
    assert saved["loss_params"]["gamma"] == parameter_for_noise("blurry", eta)
    assert saved["passes"] == 2
    assert saved["num_flagged"] == len(flagged)


def test_the_difference_to_cross_entropy_is_shown(folder_run):
    """The cross-entropy pass that ran anyway is compared: flagged_ce / rank_ce are its own
    Confident Learning verdict and label-quality rank, and the report and the summary count
    the samples only one of the two flags."""
    table = pd.read_csv(folder_run["out"] / "label_issues.csv")
    assert table["rank_ce"].is_unique and set(table["rank_ce"]) == set(range(1, 1798))
    assert table.flagged_ce.dtype == bool and table.flagged_ce.sum() > 0
    ours, ce = table.flagged, table.flagged_ce
    both, only_ours, only_ce = (ours & ce).sum(), (ours & ~ce).sum(), (ce & ~ours).sum()
    assert (f"both {both}, only blurry {only_ours}, only cross-entropy {only_ce}"
            in folder_run["stdout"])
    page = (folder_run["out"] / "report.html").read_text()
    assert "What Blurry Loss adds over cross-entropy" in page
    assert f"only Blurry Loss <b>{only_ours}</b>" in page and f"<b>{both}</b>" in page
    assert ("<h3>Flagged only by Blurry Loss" in page) == (only_ours > 0)


def test_the_comparison_says_when_its_grids_are_cut():
    """30 samples only the robust loss flags, 3 only cross-entropy: the first grid shows 24
    and says so, the second shows all 3; no heading for an empty side."""
    from robustloss.find.report import comparison

    n = 60
    flagged, flagged_ce = np.zeros(n, bool), np.zeros(n, bool)
    flagged[:30], flagged_ce[30:33] = True, True
    table = pd.DataFrame({"rank": np.arange(1, n + 1), "index": np.arange(n),
                          "sample": [f"s{i}" for i in range(n)], "given_label": "a",
                          "suggested_label": "b", "p_given": 0.1, "p_suggested": 0.9,
                          "flagged": flagged, "flagged_ce": flagged_ce,
                          "rank_ce": np.arange(n, 0, -1)})
    table.attrs["loss"] = "blurry"
    page = comparison(table, None)
    assert "<h3>Flagged only by Blurry Loss (30; the first 24)</h3>" in page
    assert "<h3>Flagged only by cross-entropy (3)</h3>" in page
    assert page.count("<td>s") == 24 + 3
    assert "<h3>Flagged only by cross-entropy" not in comparison(
        table.assign(flagged_ce=False), None)


def test_the_report_embeds_its_images_and_states_the_count(folder_run):
    """No browser needed: the images are embedded (no file references) and the summary
    states the flagged count."""
    page = (folder_run["out"] / "report.html").read_text()
    table = pd.read_csv(folder_run["out"] / "label_issues.csv")
    only = (table.flagged != table.flagged_ce).sum()
    # 48 most suspicious + up to 24 per "only one loss flags it" grid
    assert page.count("data:image/png;base64,") == 48 + min(24, (table.flagged & ~table.flagged_ce).sum()) \
        + min(24, (~table.flagged & table.flagged_ce).sum()) and only >= 0
    assert "src=\"digits/" not in page and "file:" not in page
    assert f"{table.flagged.sum()} of 1797 flagged" in page
    flip = json.loads((folder_run["out"] / "find_issues.json").read_text())["choice"]
    assert f"{100 * flip['estimated_flip_rate']:.1f}% of a class's samples carry" in html.unescape(page)


def test_the_report_renders_in_a_browser(folder_run, tmp_path):
    """Headless chromium draws the page: the screenshot is not blank and the page states
    the flagged count."""
    why_not = ensure_installed("chromium", ("chromium",), ("chromium",))
    if why_not:
        pytest.skip(why_not)
    browser = shutil.which("chromium")
    report = folder_run["out"] / "report.html"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'p'}"]
    shot = tmp_path / "shot.png"
    subprocess.run([browser, *flags, f"--screenshot={shot}", "--window-size=1200,1400",
                    report.as_uri()], capture_output=True, timeout=120, check=True)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 20                                  # not a blank page
    assert (pixels < 50).mean() > 0.05                        # the dark digit thumbnails drew
    dom = subprocess.run([browser, *flags, "--dump-dom", report.as_uri()], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    flagged = json.loads((folder_run["out"] / "find_issues.json").read_text())["num_flagged"]
    assert f"{flagged} of 1797 flagged" in dom


def test_an_output_folder_of_another_input_is_not_overwritten(folder_run, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(folder_run["folder"], other)
    before = (folder_run["out"] / "label_issues.csv").read_bytes()
    run = robustloss_cli("find-issues", other, "--out", folder_run["out"], timeout=120)
    assert run.returncode == 2 and "holds the results of another input" in run.stderr
    assert (folder_run["out"] / "label_issues.csv").read_bytes() == before


def feature_table(tmp_path, kind: str) -> tuple[Path, set]:
    """digits' 64 pixel values as a feature table with string labels and planted errors."""
    images, labels, wrong = planted_digits(seed=1)
    features = images.reshape(len(images), -1).astype(np.float32)
    names = np.array(CLASS_NAMES, dtype=object)[labels]
    if kind == "npy":
        np.save(tmp_path / "features.npy", features)
        pd.Series(names).to_csv(tmp_path / "labels.txt", index=False, header=False)
        return tmp_path / "features.npy", set(wrong.tolist())
    table = pd.DataFrame(features, columns=[f"f{j}" for j in range(64)]).assign(species=names)
    path = tmp_path / f"features.{kind}"
    table.to_csv(path, index=False) if kind == "csv" else table.to_parquet(path)
    return path, set(wrong.tolist())


def test_labels_are_read_as_written(tmp_path):
    """Text labels keep their spelling: "NA" and "None" are classes (not missing), "007" and
    "7" are two; integer labels sort as numbers; an empty label is refused, naming its row."""
    labels = ["NA", "None", "007", "7", "10", "2"] * 5
    features = np.random.default_rng(0).normal(size=(len(labels), 3)).astype(np.float32)
    pd.DataFrame(features, columns=["a", "b", "c"]).assign(label=labels).to_csv(
        tmp_path / "t.csv", index=False)
    data = load_user_data(tmp_path / "t.csv")
    assert data.class_names == ["007", "10", "2", "7", "NA", "None"]
    assert [data.class_names[k] for k in data.labels] == labels
    np.save(tmp_path / "f.npy", features)
    (tmp_path / "numbers.txt").write_text("\n".join(["10", "2", "1"] * 10) + "\n")
    numbered = load_user_data(tmp_path / "f.npy", labels_path=tmp_path / "numbers.txt")
    assert numbered.class_names == ["1", "2", "10"] and numbered.labels[:3].tolist() == [2, 1, 0]
    blank = pd.DataFrame(features, columns=["a", "b", "c"]).assign(label=labels)
    blank.loc[4, "label"] = ""
    blank.to_csv(tmp_path / "blank.csv", index=False)
    with pytest.raises(ValueError, match=r"blank.csv: missing labels in rows \[4\]"):
        load_user_data(tmp_path / "blank.csv")


def test_a_column_numbering_the_rows_is_not_a_feature(tmp_path, caplog):
    """A table saved with its index (``to_csv``'s default: "Unnamed: 0") and sorted by class:
    the row numbers would give the class away; they are left out, and the log says so."""
    labels = np.repeat([0, 1, 2], 10)
    features = np.random.default_rng(0).normal(size=(30, 4))
    table = pd.DataFrame(features, columns=list("abcd")).assign(label=labels, id=np.arange(1, 31))
    table.to_csv(tmp_path / "sorted.csv")                             # index written too
    with caplog.at_level("INFO", logger="robustloss.find"):
        data = load_user_data(tmp_path / "sorted.csv")
    assert tuple(data.inputs.shape) == (30, 4)
    assert np.allclose(data.inputs.numpy(), features.astype(np.float32))
    assert "['Unnamed: 0', 'id'] number the rows" in caplog.text
    table[["label", "id"]].to_csv(tmp_path / "only_ids.csv", index=False)
    with pytest.raises(ValueError, match=r"no numeric feature columns besides 'label' and the "
                                         r"row numbers \['id'\]"):
        load_user_data(tmp_path / "only_ids.csv")


@pytest.mark.parametrize("kind", ["csv", "parquet", "npy"])
def test_feature_tables_train_an_mlp_head(tmp_path, kind):
    path, wrong = feature_table(tmp_path, kind)
    extra = {"labels_path": tmp_path / "labels.txt"} if kind == "npy" else {"label_column": "species"}
    table = robustloss.find_label_issues(path, progress=False, protocol="paper", **extra)
    assert table.attrs["kind"] == "features" and table.attrs["class_names"] == sorted(CLASS_NAMES)
    caught = set(table.loc[table.flagged, "index"]) & wrong
    assert len(caught) >= 25, len(caught)                       # of 40 planted
    assert table.flagged.sum() < 100


def test_ce_and_fixed_gamma_skip_the_estimate_pass(tmp_path):
    path, _ = feature_table(tmp_path, "csv")
    fixed = robustloss.find_label_issues(path, label_column="species", gamma=0.3, progress=False,
                                         protocol="paper")
    assert fixed.attrs["loss_params"] == {"gamma": 0.3} and fixed.attrs["settings"]["gamma"] == 0.3
    assert fixed.attrs["passes"] == 1 and "flagged_ce" not in fixed  # compare=auto: not cheap
    compared = robustloss.find_label_issues(path, label_column="species", gamma=0.3,
                                            compare="ce", progress=False, protocol="paper")
    assert compared.attrs["passes"] == 2 and "flagged_ce" in compared
    planted = robustloss.find_label_issues(path, label_column="species", auto_by="planting",
                                           progress=False, protocol="paper")
    choice = planted.attrs["choice"]
    scores = {float(v): f for v, f in choice["recovery_f1"].items()}
    assert choice["by"] == "planting" and sorted(scores) == list(CANDIDATES["blurry"])
    assert planted.attrs["passes"] == 1 + len(scores) and choice["planted"] == round(0.05 * 1797)
    assert planted.attrs["loss_params"]["gamma"] == max(scores, key=lambda v: (scores[v], -v))
    assert "flagged_ce" in planted
    ce = robustloss.find_label_issues(path, label_column="species", loss="ce", progress=False,
                                      protocol="paper")
    assert ce.attrs["loss_params"] == {} and 0 < ce.attrs["estimated_noise_rate"] < 0.1


def test_noise_structure_reads_pair_flips_off_the_cross_entropy_pass():
    """Digits' class-dependent map (five classes flip into one partner each) at eta 0.3:
    the cross-entropy pass reads about 15 % wrong labels, but at about 30 % inside the
    flipped classes, so noise_structure picks gamma = 3 x that flip rate (at most
    choose.LARGEST), above the paper relation's value, from the same two passes."""
    data = load("digits")
    noisy, _ = corrupt("asymmetric", data.labels, 10, 0.3, seed=0, dataset="digits")
    user = UserData(torch.as_tensor(data.images.reshape(len(noisy), -1) / 16.0,
                                    dtype=torch.float32), noisy, CLASS_NAMES,
                    [f"row {i}" for i in range(len(noisy))], "digits", "features")
    table = robustloss.find_label_issues(user, auto_by="noise_structure", protocol="paper",
                                         progress=False)
    choice, gamma = table.attrs["choice"], table.attrs["loss_params"]["gamma"]
    assert choice["by"] == "noise_structure" and table.attrs["passes"] == 2
    assert 0.1 < choice["estimated_noise_rate"] < 0.2
    assert 0.2 < choice["estimated_flip_rate"] < 0.4
    noise = NoiseEstimate(choice["estimated_noise_rate"], choice["estimated_flip_rate"])
    assert gamma == parameter_for_structure("blurry", noise)
    assert gamma > parameter_for_noise("blurry", noise.rate) + 0.2


# The paper's Table 1 best values (MNIST, Fashion-MNIST) at eta = 0.1, 0.2, 0.3, 0.4,
# written out here so that the relation is checked against the paper, not against itself.
PAPER_BEST = {"blurry": {"MNIST": [0.3, 0.4, 0.4, 0.5], "Fashion-MNIST": [0.1, 0.2, 0.4, 0.5]},
              "piecewise_zero": {"MNIST": [0.005, 0.01, 0.02, 0.04],
                                 "Fashion-MNIST": [0.005, 0.005, 0.02, 0.04]}}


@pytest.mark.parametrize("loss", ["blurry", "piecewise_zero"])
def test_automatic_parameter_follows_the_papers_best_values(loss):
    """At the tabulated rates gamma / c are the paper's best (mean over MNIST and
    Fashion-MNIST, Table 1); between them linear; outside them the nearest end."""
    means = np.mean([PAPER_BEST[loss]["MNIST"], PAPER_BEST[loss]["Fashion-MNIST"]], axis=0)
    etas, values = best_values(loss)
    assert etas.tolist() == [0.1, 0.2, 0.3, 0.4]
    np.testing.assert_allclose(values, means)
    for eta, value in zip(etas, means, strict=True):
        assert parameter_for_noise(loss, eta) == pytest.approx(value, abs=1e-4)
    assert parameter_for_noise(loss, 0.25) == pytest.approx(means[1:3].mean(), abs=1e-4)
    assert parameter_for_noise(loss, 0.01) == pytest.approx(means[0], abs=1e-4)
    assert parameter_for_noise(loss, 0.9) == pytest.approx(means[-1], abs=1e-4)
    with pytest.raises(ValueError, match="automatic parameters exist for"):
        parameter_for_noise("ce", 0.2)


def test_noise_estimate_from_out_of_fold_probabilities():
    """cleanlab's joint on probabilities that know the truth: 1 - trace = the planted rate."""
    rng = np.random.default_rng(0)
    true = rng.integers(0, 5, 5000)
    given = true.copy()
    flip = rng.random(5000) < 0.2
    given[flip] = (true[flip] + rng.integers(1, 5, flip.sum())) % 5
    probs = np.full((5000, 5), 0.02)
    probs[np.arange(5000), true] = 0.92
    assert estimate_noise_rate(given, probs) == pytest.approx(flip.mean(), abs=0.01)


def knowing_probs(true: np.ndarray, k: int) -> np.ndarray:
    """Probabilities that know the true class (0.92, the rest spread)."""
    probs = np.full((len(true), k), 0.08 / (k - 1))
    probs[np.arange(len(true)), true] = 0.92
    return probs


@pytest.mark.parametrize("kind", ["pairs", "spread"])
def test_flip_rate_reads_how_concentrated_the_wrong_labels_are(kind):
    """Half the classes lose 30 % of their samples, either all to one partner class
    (pairs) or spread over all others: the flip rate is the rate of the largest wrong cell,
    0.3 vs 0.3 / 9 (the largest of nine noisy cells: a little above), and agrees with
    cleanlab's own noise matrix (estimate_latent)."""
    from cleanlab.count import compute_confident_joint, estimate_latent

    rng = np.random.default_rng(1)
    k, n = 10, 20000
    true = rng.integers(0, k, n)
    given = true.copy()
    flip = (true < 5) & (rng.random(n) < 0.3)
    shift = 5 if kind == "pairs" else rng.integers(1, k, n)
    given[flip] = ((true + shift) % k)[flip]
    probs = knowing_probs(true, k)
    noise = estimate_noise(given, probs)
    low, high = (0.28, 0.32) if kind == "pairs" else (0.3 / (k - 1), 0.6 / (k - 1))
    assert noise.rate == pytest.approx(flip.mean(), abs=0.01)
    assert low < noise.flip < high
    _, matrix, _ = estimate_latent(compute_confident_joint(given, probs), given)
    wrong = matrix - np.diag(np.diag(matrix))
    weight = (1 - np.diag(matrix)) * np.bincount(true, minlength=k)
    assert noise.flip == pytest.approx((wrong.max(0) * weight).sum() / weight.sum(), abs=0.01)


def test_structure_rule_raises_gamma_only_where_wrong_labels_concentrate():
    """Spread noise keeps the paper's value; a flip rate f lifts gamma to 3 f, capped at
    LARGEST; Piecewise-zero's c keeps the relation (no measurement)."""
    spread, pairs, heavy = NoiseEstimate(0.3, 0.04), NoiseEstimate(0.1, 0.2), NoiseEstimate(0.2, 0.4)
    assert parameter_for_structure("blurry", spread) == parameter_for_noise("blurry", 0.3)
    assert parameter_for_structure("blurry", NoiseEstimate(0.1, 0.05)) == parameter_for_noise("blurry", 0.1)
    assert parameter_for_structure("blurry", pairs) == pytest.approx(0.6)
    assert parameter_for_noise("blurry", 0.1) < 0.6
    assert parameter_for_structure("blurry", heavy) == pytest.approx(LARGEST["blurry"])
    assert 3 * heavy.flip > LARGEST["blurry"] > parameter_for_noise("blurry", 0.4)  # it can bind
    assert (parameter_for_structure("piecewise_zero", pairs)
            == parameter_for_noise("piecewise_zero", 0.1))
    by_structure = FindSettings(auto_by="noise_structure")
    assert by_structure.loss_params(pairs) == {"gamma": pytest.approx(0.6)}
    assert FindSettings(auto_by="noise_estimate").loss_params(pairs) == {
        "gamma": parameter_for_noise("blurry", 0.1)}
    assert by_structure.loss_params(0.1) == {"gamma": parameter_for_noise("blurry", 0.1)}
    assert FindSettings(auto_by="noise_structure", gamma=0.5).loss_params(pairs) == {"gamma": 0.5}



def test_unsure_share_counts_samples_whose_top_class_is_below_one_half():
    """Two-class doubt (0.55 / 0.45) is sure; three-way doubt (0.4 / 0.35 / 0.25) is not;
    rows are normalised first (0.8 / 0.8 is 0.5 / 0.5: sure, at exactly one half)."""
    probs = np.array([[0.55, 0.45, 0.0], [0.4, 0.35, 0.25], [0.9, 0.05, 0.05],
                      [0.8, 0.8, 0.0], [0.2, 0.3, 0.5]])
    assert unsure_share(probs) == pytest.approx(1 / 5)
    rng = np.random.default_rng(0)
    many = rng.dirichlet(np.full(4, 0.7), size=2000)
    assert unsure_share(many) == pytest.approx(np.mean(many.max(axis=1) < 0.5))
    given = rng.integers(0, 4, 2000)
    assert estimate_noise(given, many).unsure == unsure_share(many)


def test_confusion_gate_keeps_the_raise_only_where_the_model_is_sure():
    """Below the gate: the structure rule, capped at GATED_LARGEST (0.7 lets 3 x 0.25 bind
    at 0.7, where noise_structure stops at LARGEST); above it: the paper's value."""
    sure = NoiseEstimate(0.15, 0.25, unsure=UNSURE_GATE / 2)
    hard = NoiseEstimate(0.15, 0.25, unsure=UNSURE_GATE * 2)
    assert parameter_for_confusion("blurry", sure) == pytest.approx(GATED_LARGEST["blurry"])
    assert parameter_for_structure("blurry", sure) == pytest.approx(LARGEST["blurry"])
    assert GATED_LARGEST["blurry"] > LARGEST["blurry"]
    assert parameter_for_confusion("blurry", hard) == parameter_for_noise("blurry", 0.15)
    assert parameter_for_noise("blurry", 0.15) < LARGEST["blurry"]
    small = NoiseEstimate(0.1, 0.1, unsure=0.0)                 # 3 x 0.1 = 0.3, below both caps
    assert parameter_for_confusion("blurry", small) == parameter_for_structure("blurry", small)
    assert (parameter_for_confusion("piecewise_zero", hard)
            == parameter_for_structure("piecewise_zero", hard))
    gated = FindSettings(auto_by="confusion_gate")
    assert gated.loss_params(sure) == {"gamma": pytest.approx(GATED_LARGEST["blurry"])}
    assert gated.loss_params(hard) == {"gamma": parameter_for_noise("blurry", 0.15)}


def test_confusion_cap_keeps_the_structure_rule_where_the_gate_is_shut():
    """Where the gate is open, confusion_cap is the gate (up to GATED_LARGEST); where it is
    shut, the structure rule up to LARGEST, not the paper's value; small flip rates and
    Piecewise-zero: the structure rule as it is."""
    sure = NoiseEstimate(0.15, 0.25, unsure=UNSURE_GATE / 2)
    hard = NoiseEstimate(0.15, 0.25, unsure=UNSURE_GATE * 2)
    assert parameter_for_confusion_cap("blurry", sure) == parameter_for_confusion("blurry", sure)
    assert parameter_for_confusion_cap("blurry", hard) == pytest.approx(LARGEST["blurry"])
    assert parameter_for_confusion("blurry", hard) < LARGEST["blurry"]        # the gate's
    some = NoiseEstimate(0.15, 0.17, unsure=UNSURE_GATE * 2)                  # 3 x 0.17 = 0.51
    assert parameter_for_confusion_cap("blurry", some) == pytest.approx(0.51)
    small = NoiseEstimate(0.1, 0.05, unsure=UNSURE_GATE * 2)                  # 0.15: the paper's
    assert parameter_for_confusion_cap("blurry", small) == parameter_for_noise("blurry", 0.1)
    assert (parameter_for_confusion_cap("piecewise_zero", hard)
            == parameter_for_structure("piecewise_zero", hard))
    capped = FindSettings(auto_by="confusion_cap")
    assert capped.loss_params(hard) == {"gamma": pytest.approx(LARGEST["blurry"])}
    assert capped.loss_params(sure) == {"gamma": pytest.approx(GATED_LARGEST["blurry"])}


def test_confusion_spread_raises_faster_only_where_the_gate_is_shut_and_errors_spread():
    """Shut gate, flip 0.1 of a noise rate 0.25 (spread): 4 x 0.1 = 0.4 where confusion_cap
    gives 3 x 0.1 = 0.3; flip 0.2 (4 x = 0.8): capped at LARGEST. A pair flip (flip = rate)
    or an open gate: confusion_cap's value; Piecewise-zero: confusion_cap's."""
    spread_shut = NoiseEstimate(0.25, 0.1, unsure=UNSURE_GATE * 2)
    assert parameter_for_noise("blurry", 0.25) < 0.4
    assert parameter_for_confusion_spread("blurry", spread_shut) == pytest.approx(0.4)
    assert parameter_for_confusion_cap("blurry", spread_shut) < 0.4
    wide = NoiseEstimate(0.3, 0.2, unsure=UNSURE_GATE * 2)
    assert parameter_for_confusion_spread("blurry", wide) == pytest.approx(LARGEST["blurry"])
    pair = NoiseEstimate(0.12, 0.12, unsure=UNSURE_GATE * 2)                  # flip = rate
    assert pair.flip > SPREAD_RATIO * pair.rate
    assert parameter_for_confusion_spread("blurry", pair) == parameter_for_confusion_cap("blurry", pair)
    sure = NoiseEstimate(0.25, 0.1, unsure=UNSURE_GATE / 2)
    assert parameter_for_confusion_spread("blurry", sure) == parameter_for_confusion_cap("blurry", sure)
    assert (parameter_for_confusion_spread("piecewise_zero", spread_shut)
            == parameter_for_confusion_cap("piecewise_zero", spread_shut))
    assert FindSettings(auto_by="confusion_spread").loss_params(spread_shut) == {
        "gamma": pytest.approx(0.4)}


def test_confusion_spread_only_holds_pairs_to_the_paper_value_where_the_gate_is_shut():
    """Shut gate and a pair flip (flip 0.2 of a noise rate 0.2: 3 x flip = 0.6): the paper's
    value at the rate, where confusion_spread keeps the raise to LARGEST; shut and spread:
    confusion_spread's 4 x flip; open gate: the gate's raise up to GATED_LARGEST, as under
    both others."""
    pair = NoiseEstimate(0.2, 0.2, unsure=UNSURE_GATE * 2)
    assert parameter_for_confusion_spread_only("blurry", pair) == parameter_for_noise("blurry", 0.2)
    assert parameter_for_confusion_spread("blurry", pair) == pytest.approx(LARGEST["blurry"])
    spread_shut = NoiseEstimate(0.25, 0.1, unsure=UNSURE_GATE * 2)
    assert parameter_for_confusion_spread_only("blurry", spread_shut) == pytest.approx(0.4)
    open_pair = NoiseEstimate(0.2, 0.25, unsure=UNSURE_GATE / 2)              # 3 x 0.25 = 0.75
    assert parameter_for_confusion_spread_only("blurry", open_pair) == pytest.approx(
        GATED_LARGEST["blurry"])
    assert (parameter_for_confusion_spread_only("piecewise_zero", pair)
            == parameter_for_noise("piecewise_zero", 0.2))
    assert FindSettings(auto_by="confusion_spread_only").loss_params(pair) == {
        "gamma": pytest.approx(parameter_for_noise("blurry", 0.2))}


def write_png(path: Path, value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8), value, dtype=np.uint8)).save(path)


@pytest.mark.parametrize("case, message", [
    ("unreadable", "unreadable image"),
    ("one_class", "only one class"),
    ("small_class", "needs at least 5 samples per class"),
    ("no_column", "no label column 'label'"),
    ("missing", "no such file or folder"),
    ("npy_without_labels", "give them with --labels"),
])
def test_bad_inputs_fail_in_one_line_before_training(tmp_path, monkeypatch, case, message):
    """In process for every case (training patched to fail if reached); through the command
    line for two, for the single line, the exit status and no output folder left behind."""
    target = tmp_path / "data"
    if case in ("unreadable", "one_class", "small_class"):
        for i in range(6):
            write_png(target / "cat" / f"{i}.png", i)
        if case != "one_class":
            for i in range(6 if case == "unreadable" else 2):
                write_png(target / "dog" / f"{i}.png", 200 + i)
        if case == "unreadable":
            (target / "dog" / "broken.png").write_bytes(b"not a png")
    elif case == "no_column":
        target = tmp_path / "table.csv"
        pd.DataFrame({"x": [1.0, 2.0], "y": ["a", "b"]}).to_csv(target, index=False)
    elif case == "npy_without_labels":
        target = tmp_path / "f.npy"
        np.save(target, np.zeros((10, 3), dtype=np.float32))

    def no_training(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(find_core, "out_of_fold", no_training)
    with pytest.raises(UserError, match=re.escape(message)):
        robustloss.find_label_issues(target, progress=False)
    if case in ("unreadable", "small_class"):  # a reading check and a check of the classes
        run = robustloss_cli("find-issues", target, "--out", tmp_path / "out", timeout=120)
        assert run.returncode == 2, run.stderr
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("robustloss: error:") and message in lines[0]
        assert "Traceback" not in run.stderr and "pass 1" not in run.stderr   # nothing trained
        assert not (tmp_path / "out").exists()                # and no empty folder left behind


def test_the_report_says_what_the_automatic_value_was_read_from():
    """noise_structure and confusion_gate raise Blurry Loss's gamma with the flip rate, not
    Piecewise-zero's c: the report names the flip rate (and the gate's unsure share) for the
    first only."""
    from robustloss.find.report import choice_text

    structure = {"by": "noise_structure", "estimated_noise_rate": 0.1, "estimated_flip_rate": 0.2}
    assert "20.0% of a class's samples" in choice_text({"choice": structure, "loss": "blurry"})
    assert choice_text({"choice": structure, "loss": "piecewise_zero"}) == \
        "Chosen from the estimated noise rate."
    assert choice_text({"choice": None, "loss": "blurry"}) == ""
    gated = {**structure, "by": "confusion_gate", "unsure_share": 0.031}
    opened = "below 0.5 on 3.1% of samples, within the gate of 6%, so gamma may rise with the flip rate"
    assert opened in choice_text({"choice": gated, "loss": "blurry"})
    shut = {**gated, "unsure_share": 0.2}
    assert "below 0.5 on 20.0% of samples, above the gate of 6%, too many" in choice_text(
        {"choice": shut, "loss": "blurry"})
    assert "20.0% of a class's samples" in choice_text({"choice": gated, "loss": "blurry"})
    capped = {**shut, "by": "confusion_cap"}
    assert f"flip rate only up to {LARGEST['blurry']}" in choice_text(
        {"choice": capped, "loss": "blurry"})
    assert "flip rate" in choice_text({"choice": {**capped, "unsure_share": 0.03}, "loss": "blurry"})
    spreading = {**capped, "by": "confusion_spread", "estimated_noise_rate": 0.3}   # flip 0.2
    steeper = ("the wrong labels spread over several classes, so gamma may rise with 4x the flip "
               "rate, up to 0.6")
    assert steeper in choice_text({"choice": spreading, "loss": "blurry"})
    assert "spread" not in choice_text({"choice": {**spreading, "estimated_noise_rate": 0.2},
                                        "loss": "blurry"})                     # a pair flip
    only = {**spreading, "by": "confusion_spread_only"}
    assert steeper in choice_text({"choice": only, "loss": "blurry"})
    assert "too many for a larger gamma" in choice_text(
        {"choice": {**only, "estimated_noise_rate": 0.2}, "loss": "blurry"})   # a pair flip
    assert choice_text({"choice": gated, "loss": "piecewise_zero"}) == \
        "Chosen from the estimated noise rate."


def test_the_report_names_every_loss_in_words():
    from robustloss.components import losses
    from robustloss.find.report import LOSS_NAMES

    assert set(LOSS_NAMES) == set(losses.LOSSES.names())


def test_sixteen_bit_grey_images_are_scaled_not_clipped(tmp_path):
    """A folder of 16-bit PNGs (a microscope's or a scanner's) reads as the same picture in 8
    bits: value // 256, not every value above 255 turned white; 8-bit ones stay as they are."""
    deep = np.array([[0, 1000], [40000, 65535]], dtype=np.uint16)
    for name, picture in [("a", Image.fromarray(deep)),
                          ("b", Image.fromarray((deep // 256).astype(np.uint8)))]:
        (tmp_path / name).mkdir()
        picture.save(tmp_path / name / "0.png")
    assert Image.open(tmp_path / "a" / "0.png").mode.startswith("I")   # read back as 16 bits
    data = load_user_data(tmp_path)
    expected = (deep // 256).astype(np.uint8)
    assert data.kind == "images" and tuple(data.inputs.shape) == (2, 1, 2, 2)
    assert np.array_equal(data.inputs[0, 0].numpy(), expected)
    assert np.array_equal(data.inputs[1, 0].numpy(), expected)


def test_load_user_data_resizes_mixed_image_sizes(tmp_path):
    for i, size in enumerate([(8, 8), (20, 12), (40, 40)]):
        path = tmp_path / ("a" if i % 2 else "b") / f"{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, (i * 60, 0, 0)).save(path)
    data = load_user_data(tmp_path)
    assert tuple(data.inputs.shape) == (3, 3, 32, 32) and data.class_names == ["a", "b"]
    assert tuple(load_user_data(tmp_path, image_size=16).inputs.shape) == (3, 3, 16, 16)


def oracle_probs(true: np.ndarray, sharp: float, seed: int = 0) -> np.ndarray:
    """Probabilities of a model that knows the true classes, with confidence ``sharp``."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(len(true), 10))
    logits[np.arange(len(true)), true] += sharp
    probs = np.exp(logits)
    return probs / probs.sum(1, keepdims=True)


def test_planting_relabels_half_to_the_likely_other_class_and_half_at_random():
    true = np.random.default_rng(1).integers(0, 10, 2000)
    labels = true.copy()
    labels[:200] = (labels[:200] + 1) % 10                    # 10% real errors
    ce = oracle_probs(true, 4.0)
    planting = plant(labels, ce, 0.05, seed=0)
    planted, control = planting.planted, planting.control
    assert len(planted) == len(control) == 100 and not set(planted) & set(control)
    new = planting.planted_labels
    assert (new[planted] != labels[planted]).all()            # every planted label changed
    others = ce.copy()
    others[np.arange(2000), labels] = -np.inf
    likely = new[planted] == others[planted].argmax(1)
    assert 50 <= likely.sum() < 70                            # half by design, a few by chance
    untouched = np.setdiff1d(np.arange(2000), planted)
    np.testing.assert_array_equal(new[untouched], labels[untouched])
    again = plant(labels, ce, 0.05, seed=0)
    np.testing.assert_array_equal(again.planted_labels, new)   # seeded


def test_the_value_that_recovers_planted_errors_best_is_chosen():
    """Candidate passes of a model that sees the true classes sharply (0.4) or barely (0.2,
    0.6, 0.8): 0.4 recovers the planted errors and is chosen; its pass is the answer."""
    true = np.random.default_rng(2).integers(0, 10, 1500)
    ce = oracle_probs(true, 3.0)
    passes = {0.2: oracle_probs(true, 0.3, 1), 0.4: oracle_probs(true, 6.0, 2),
              0.6: oracle_probs(true, 0.3, 3), 0.8: oracle_probs(true, 0.3, 4)}
    seen = []

    def run_pass(value, labels):
        seen.append(labels)
        return passes[value]

    choice = choose_by_planting("blurry", true, ce, run_pass, fraction=0.05, seed=0)
    assert choice.value == 0.4 and choice.probs is passes[0.4] and choice.planted == 75
    assert choice.scores[0.4] > 0.9 > max(choice.scores[v] for v in (0.2, 0.6, 0.8))
    assert len(seen) == 4 and all((labels != true).sum() == 75 for labels in seen)
    planting = plant(true, ce, 0.05, 0)
    assert recovery_f1(planting, passes[0.4]) == choice.scores[0.4]


def test_help_names_the_choices_of_auto_by_and_compare():
    from robustloss.cli.find_issues import find_issues_parser

    text = " ".join(find_issues_parser().format_help().split())  # argparse wraps lines
    assert ("{noise_estimate,noise_structure,confusion_gate,confusion_cap,confusion_spread,"
            "confusion_spread_only,planting}") in text
    assert "{auto,ce,none}" in text
    assert "plant 5% known errors" in text and "(default confusion_spread_only)" in text


def test_protocols_set_epochs_augmentation_and_members_unless_set_alone():
    strong, paper = find_core.PROTOCOLS["strong"], find_core.PROTOCOLS["paper"]
    assert find_core.FindSettings().protocol == "strong"
    assert paper == {"epochs": 10, "augment": "none", "members": 1, "width": 1}  # the paper's
    default = find_core.FindSettings()
    images, features = default.train_settings("images"), default.train_settings("features")
    assert images.epochs == strong["epochs"] and images.augment == strong["augment"]
    assert features.augment == "none"                       # no crop for feature vectors
    assert default.recipe("members") == strong["members"]
    own = find_core.FindSettings(epochs=3, members=1)
    assert own.train_settings("images").epochs == 3 and own.recipe("members") == 1
    assert own.train_settings("images").augment == strong["augment"]
    assert find_core.FindSettings(protocol="paper").describe_model("images") == "5 folds x 10 epochs"
    with pytest.raises(ValueError, match="protocol must be one of"):
        find_core.FindSettings(protocol="best")
    with pytest.raises(ValueError, match="augment must be one of"):
        find_core.FindSettings(augment="rotate")
    with pytest.raises(ValueError, match="members must be an integer >= 1"):
        find_core.FindSettings(members=0)
    with pytest.raises(ValueError, match="width must be an integer >= 1"):
        find_core.FindSettings(width=0)


def test_width_widens_the_network_it_names():
    """--width 2: twice the channels and hidden units of the paper's CNN (or the MLP head),
    named in the model description; width 1 is the paper's network, parameter for parameter."""
    from robustloss.components import models
    from robustloss.find.inputs import UserData

    images, labels, _ = planted_digits()
    data = UserData(torch.from_numpy(images[:40, None]), labels[:40], CLASS_NAMES,
                    [str(i) for i in range(40)], "digits", "images")
    two = find_core.model_for(data, 2)()
    torch.manual_seed(0)
    paper = models.build("small_cnn", (1, 8, 8), 10)
    make_model = find_core.model_for(data)                  # builds and checks one model
    torch.manual_seed(0)
    one = make_model()                                      # the same draws, in the same order
    assert all(torch.equal(a, b) for a, b in zip(one.parameters(), paper.parameters(), strict=True))
    convs = [m for m in two if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128] and two[-1].in_features == 256
    assert two(data.inputs[:3].float()).shape == (3, 10)
    features = UserData(torch.randn(40, 12), labels[:40], CLASS_NAMES,
                        [str(i) for i in range(40)], "table", "features")
    assert find_core.model_for(features, 3)()[0].out_features == 3 * 256
    settings = find_core.FindSettings(width=2)
    assert settings.recipe("width") == 2 and settings.describe_model("images").endswith(", 2x wide")
    assert find_core.FindSettings().describe_model("images") == "5 folds x 20 epochs, crop"


def test_members_average_models_of_other_seeds_on_the_same_folds():
    """Two models per fold: the mean of the one-model pass (seed s) and a cross-validation
    seeded s + 1000 on the folds of seed s, bit for bit."""
    from robustloss.components import losses
    from robustloss.experiments.provenance import resolve_device
    from robustloss.find.inputs import UserData
    from robustloss.training.crossval import CrossValSettings, cross_validate
    from robustloss.training.plan import TrainingPlan

    images, labels, _ = planted_digits()
    data = UserData(torch.from_numpy(images[:300, None]), labels[:300], CLASS_NAMES,
                    [str(i) for i in range(300)], "digits", "images")
    settings = find_core.FindSettings(epochs=1, folds=3, members=2, seed=4)
    make_model = find_core.model_for(data)
    device = resolve_device("cpu")
    both = find_core.out_of_fold(data, settings, "ce", {}, make_model, device, False)
    one = find_core.out_of_fold(data, replace(settings, members=1), "ce", {}, make_model,
                                device, False)
    plan = TrainingPlan.resolve(settings.train_settings("images"), device)
    other = cross_validate(data.inputs, data.labels, 10, make_model,
                           losses.LossSchedule(losses.build("ce", 10)), plan, folds=3,
                           seed=4 + 1000, progress=False,
                           cv=CrossValSettings(split_seed=4)).probabilities
    assert not np.allclose(one, other, atol=1e-3)            # the members differ
    np.testing.assert_allclose(both, (one + other) / 2, rtol=0, atol=1e-7)
