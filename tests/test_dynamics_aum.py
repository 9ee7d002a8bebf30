"""Training dynamics, loss derivatives and the AUM detector, against independent oracles
(a separate forward pass, autograd, the ``aum`` package)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from aum import AUMCalculator

from robustloss.components import losses, models
from robustloss.data import load
from robustloss.detection import aum as aum_detector
from robustloss.detection.metrics import separation
from robustloss.experiments.experiment import ExperimentSettings, run_and_record
from robustloss.records import RecordStore
from robustloss.training.dynamics import DynamicsRecorder, given_label_stats
from robustloss.training.loop import fit, make_optimizer
from robustloss.training.plan import TrainingPlan
from robustloss.training.train_settings import TrainSettings, batches

from .conftest import REPO


def digits(n=300):
    data = load("digits").subset(n, seed=0)
    return data.images, torch.as_tensor(data.labels)


def no_dropout_cnn(outputs=10):
    return models.build("small_cnn", (1, 8, 8), outputs, dropout1=0.0, dropout2=0.0)


def test_recorded_p_y_and_margin_match_a_separate_forward_pass():
    images, labels = digits()
    torch.manual_seed(0)
    model = no_dropout_cnn()
    recorder = DynamicsRecorder(torch.arange(len(labels)), len(labels), epochs=2)
    checked = []

    def hook(epoch, idx, logits, y):
        recorder.hook(epoch, idx, logits, y)
        if len(checked) < 3:  # parameters are those of this forward pass (before the step)
            with torch.no_grad():
                again = model(images[idx].float())
            p_y, margin = given_label_stats(again, y)
            torch.testing.assert_close(recorder.p_y[idx, epoch], p_y, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(recorder.margin[idx, epoch], margin, rtol=1e-5, atol=1e-5)
            checked.append(epoch)

    fit(model, images, labels, losses.LossSchedule(losses.CrossEntropy()),
        TrainingPlan.resolve(TrainSettings(epochs=2, lr=1e-3, precision="fp32")),
        torch.Generator().manual_seed(0), on_batch=hook)
    assert len(checked) == 3
    stored = recorder.to_numpy()
    assert stored["p_y"].dtype == np.float16 and stored["p_y"].shape == (len(labels), 2)
    assert np.isfinite(stored["p_y"]).all() and np.isfinite(stored["margin"]).all()
    # p_y and the margin agree in sign: p_y > 1/2 implies the given label is the arg max
    assert np.all(stored["margin"][stored["p_y"] > 0.51] > 0)


def test_margin_is_assigned_logit_minus_largest_other():
    logits = torch.tensor([[2.0, 5.0, 1.0], [0.5, -1.0, 3.0]])
    p_y, margin = given_label_stats(logits, torch.tensor([1, 0]))
    torch.testing.assert_close(margin, torch.tensor([3.0, -2.5]))
    torch.testing.assert_close(p_y, torch.softmax(logits, 1)[[0, 1], [1, 0]])


@pytest.mark.parametrize("loss", [
    losses.CrossEntropy(), losses.FocalLoss(2.0, detach_weight=False),
    losses.GeneralizedCrossEntropy(0.7), losses.BlurryLoss(0.4, detach_weight=False),
    losses.BlurryLoss(0.1, detach_weight=True), losses.PiecewiseZeroLoss(0.05),
], ids=lambda fn: type(fn).__name__)
def test_dloss_dp_equals_autograd_of_the_formula(loss):
    p = torch.linspace(0.002, 0.998, 400, dtype=torch.float64).requires_grad_()
    log_probs = torch.stack([p.log(), (1 - p).log()], dim=1)
    if isinstance(loss, losses.BlurryLoss | losses.FocalLoss):  # the formula, undetached
        loss = type(loss)(loss.gamma, detach_weight=False)
    value = loss.from_log_probs(log_probs, torch.zeros(len(p), dtype=torch.long))
    (grad,) = torch.autograd.grad(value.sum(), p)
    torch.testing.assert_close(loss.dloss_dp(p.detach()), grad, rtol=1e-6, atol=1e-9)


def test_blurry_derivative_is_positive_below_exp_minus_one_over_gamma():
    gamma = 0.5
    p = torch.tensor([0.05, np.exp(-1 / gamma) - 1e-3, np.exp(-1 / gamma) + 1e-3, 0.9])
    signs = torch.sign(losses.BlurryLoss(gamma).dloss_dp(p))
    assert signs.tolist() == [1, 1, -1, -1]


def test_anl_has_no_derivative_in_p_y_alone():
    with pytest.raises(ValueError, match="not a function of p_y alone"):
        losses.ANLCrossEntropy().dloss_dp(torch.tensor([0.5]))


def test_aum_equals_the_aum_package_on_the_same_logits(tmp_path):
    images, labels = digits(200)
    torch.manual_seed(0)
    model = no_dropout_cnn()
    recorder = DynamicsRecorder(torch.arange(len(labels)), len(labels), epochs=3)
    oracle = AUMCalculator(str(tmp_path), compressed=True)

    def hook(epoch, idx, logits, y):
        recorder.hook(epoch, idx, logits, y)
        if epoch >= 1:  # the reference counts margins from the second epoch on
            oracle.update(logits, y, idx.tolist())

    fit(model, images, labels, losses.LossSchedule(losses.CrossEntropy()),
        TrainingPlan.resolve(TrainSettings(epochs=3, lr=1e-3, precision="fp32", batch_size=33)),
        torch.Generator().manual_seed(0), on_batch=hook)
    oracle.finalize()
    theirs = pd.read_csv(tmp_path / "aum_values.csv").set_index("sample_id")["aum"].sort_index()
    np.testing.assert_allclose(recorder.aum(first_epoch=1), theirs.to_numpy(), atol=1e-5)


def test_threshold_sets_are_disjoint_slices_of_size_n_over_k():
    sets, trained = aum_detector.plan_runs(1797, 1797 // 10, runs=2, holdout=0, seed=3)
    assert [len(s) for s in sets] == [179, 179]
    assert not set(sets[0]) & set(sets[1]) and trained.all()
    sets_h, trained_h = aum_detector.plan_runs(1000, 100, runs=2, holdout=50, seed=3)
    assert trained_h.sum() == 950
    assert all(trained_h[s].all() for s in sets_h)  # held-out samples are never thresholds


def test_a_sample_is_judged_only_where_it_is_not_a_threshold_sample():
    # run 0: samples 0-1 are threshold samples; run 1: samples 2-3
    threshold = np.zeros((2, 6), dtype=bool)
    threshold[0, :2] = threshold[1, 2:4] = True
    aum = np.array([[-5.0, -4.0, -9.0, 3.0, -9.0, 5.0],
                    [-9.0, 4.0, -5.0, -4.0, -9.0, -9.0]])
    evidence = aum_detector.AUMEvidence(aum, threshold, np.ones(6, dtype=bool), [])
    flagged, mean_aum, values = aum_detector.flag(evidence, percentile=99)
    # thresholds ~ the largest threshold AUM of each run: -4.01 and -4.01
    assert values[0] == pytest.approx(-4.01) and values[1] == pytest.approx(-4.01)
    # sample 0: threshold in run 0 (its -5 is ignored), judged in run 1 only: -9 -> flagged
    # sample 1: judged in run 1 only: 4 -> not flagged; 2: run 0 only, -9 -> flagged
    # 3: run 0 only, 3 -> no; 4: flagged in both; 5: flagged in run 1 but not run 0 -> no
    assert flagged.tolist() == [True, False, True, False, True, False]
    np.testing.assert_allclose(mean_aum, [-9, 4, -9, 3, -9, -2])


def aum_settings(loss: dict, rate=0.2, seed=0, **detector):
    return ExperimentSettings.from_dict({
        "dataset": {"name": "digits"}, "loss": loss, "model": {"name": "small_cnn"},
        "detector": {"name": "aum", **detector}, "noise": {"rate": rate},
        "train": {"lr": 3e-3, "inputs": "unit"}, "seed": seed, "dynamics": "all"})


@pytest.mark.parametrize("loss", [{"name": "ce"}, {"name": "blurry", "gamma": 0.4},
                                  {"name": "piecewise_zero", "c": 0.025}], ids=lambda c: c["name"])
def test_aum_on_digits_finds_the_planted_errors(tmp_path, loss):
    record, ran = run_and_record(aum_settings(loss), str(tmp_path), progress=False)
    assert ran
    m = record["metrics"]
    assert m["f1"] > 0.7, m  # flagging a random 20% gives F1 ~ 0.2
    assert m["cohens_d"] > 1 and m["wasserstein"] > 0 and len(m["aum_thresholds"]) == 2
    arrays = RecordStore(tmp_path).load_arrays(record["id"])
    assert arrays["threshold_sample"].shape == (2, 1797)
    assert arrays["threshold_sample"].sum(axis=1).tolist() == [179, 179]
    assert not (arrays["threshold_sample"][0] & arrays["threshold_sample"][1]).any()
    assert arrays["dynamics_margin"].shape == (2, 1797, 10)
    assert arrays["dynamics_p_y"].dtype == np.float16
    assert np.isfinite(arrays["aum"]).all()


def test_aum_holdout_samples_are_never_judged_flagged_or_scored(tmp_path):
    """detector.holdout = 300: those samples are not trained on, their AUM is NaN, they are
    never flagged, and the record's metrics are computed over the judged samples only."""
    from robustloss.detection.metrics import detection_scores

    settings = aum_settings({"name": "ce"}, holdout=300)
    record, _ = run_and_record(settings, str(tmp_path), progress=False)
    arrays = RecordStore(tmp_path).load_arrays(record["id"])
    judged = arrays["judged"]
    assert judged.sum() == 1797 - 300 == record["data"]["num_judged"]
    assert np.isnan(arrays["aum"][~judged]).all() and np.isfinite(arrays["aum"][judged]).all()
    assert not arrays["flagged"][~judged].any()
    expected = detection_scores(arrays["flagged"][judged], arrays["corrupted"][judged])
    for name in ("f1", "precision", "recall", "balanced_accuracy"):
        assert record["metrics"][name] == pytest.approx(expected[name])
    everything = detection_scores(arrays["flagged"], arrays["corrupted"])
    assert everything["recall"] != pytest.approx(expected["recall"])  # the choice matters


def test_dynamics_for_cross_validation_cover_each_folds_training_samples(tmp_path):
    settings = ExperimentSettings.from_dict({
        "dataset": {"name": "digits", "subset": 400}, "loss": {"name": "ce"},
        "model": {"name": "small_cnn"}, "detector": {"name": "confident_learning"},
        "train": {"lr": 3e-3, "epochs": 2, "inputs": "unit"}, "folds": 3,
        "dynamics": "first_fold"})
    record, _ = run_and_record(settings, str(tmp_path), progress=False)
    arrays = RecordStore(tmp_path).load_arrays(record["id"])
    p_y = arrays["dynamics_p_y"]
    assert p_y.shape == (1, 400, 2)
    trained = arrays["fold_of"] != 0
    assert np.isfinite(p_y[0][trained]).all() and np.isnan(p_y[0][~trained]).all()
    # the same experiment without dynamics reuses the record; asking for more re-runs it
    assert run_and_record(ExperimentSettings(**{**settings.__dict__, "dynamics": "none"}),
                          str(tmp_path), progress=False)[1] is False
    assert run_and_record(ExperimentSettings(**{**settings.__dict__, "dynamics": "all"}),
                          str(tmp_path), progress=False)[1] is True


@pytest.mark.parametrize("detector, message", [
    ({"percentile": 0}, "detector.percentile must be in \\(0, 100\\)"),
    ({"percentile": 100}, "detector.percentile must be in \\(0, 100\\)"),
    ({"threshold_size": 1000}, "threshold samples exceed"),
    ({"runs": 1}, "detector.runs must be an integer >= 2"),
    ({"margin": 1}, "unknown parameter"),
])
def test_bad_aum_settings_fail_before_training(tmp_path, detector, message):
    with pytest.raises(ValueError, match=message):
        run_and_record(aum_settings({"name": "ce"}, **detector), str(tmp_path), progress=False)
    assert not list(tmp_path.glob("*.json"))


class FixedTenOutputs(torch.nn.Module):
    """A model that ignores the number of classes asked for (like a frozen pretrained head)."""

    def __init__(self, input_shape, num_classes):
        super().__init__()
        self.net = models.build("small_cnn", input_shape, 10)

    def forward(self, x):
        return self.net(x)


@pytest.fixture
def fixed_ten_outputs():
    """Registers FixedTenOutputs for one test (the registry must match conf/ otherwise)."""
    models.MODELS.register("fixed_ten_outputs")(FixedTenOutputs)
    yield "fixed_ten_outputs"
    del models.MODELS._factories["fixed_ten_outputs"]


def test_aum_refuses_a_model_without_the_extra_output(tmp_path, fixed_ten_outputs):
    settings = aum_settings({"name": "ce"})
    settings = ExperimentSettings(**{**settings.__dict__,
                                     "model": type(settings.model)(fixed_ten_outputs)})
    with pytest.raises(ValueError, match="needs a model with 11 outputs"):
        run_and_record(settings, str(tmp_path), progress=False)


def test_hydra_app_runs_aum_with_dynamics(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "robustloss.run", "dataset=digits", "detector=aum",
         "loss=piecewise_zero", "loss.c=0.025", f"results_dir={tmp_path}",
         f"hydra.run.dir={tmp_path / 'hydra'}", "progress=false", "dynamics=first_fold"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    (path,) = tmp_path.glob("*.json")
    record = json.loads(path.read_text())
    assert record["settings"]["detector"]["name"] == "aum"
    assert record["settings"]["loss"]["delay"] == 1 and record["dynamics"] == "first_fold"
    assert record["metrics"]["f1"] > 0.7
    # the flagged samples of an AUM record, lowest AUM first
    from robustloss.cli.label_issues import main as list_issues
    list_issues([str(tmp_path)])
    table = pd.read_csv(tmp_path / f"{record['id']}_label_issues.csv")
    assert list(table.columns) == ["index", "given_label", "aum", "flagged"]
    flagged = table[table.flagged]
    assert len(flagged) == record["metrics"]["n_flagged"]
    assert flagged.aum.is_monotonic_increasing and table.flagged.iloc[:len(flagged)].all()


def test_single_sample_batches_join_the_previous_batch():
    parts = batches(torch.arange(129), 64)
    assert [len(p) for p in parts] == [64, 65]
    assert [len(p) for p in batches(torch.arange(130), 64)] == [64, 64, 2]
    assert [len(p) for p in batches(torch.arange(1), 64)] == [1]


def test_sgd_optimizer_takes_the_aum_recipe():
    opt = make_optimizer(torch.nn.Linear(2, 2), TrainSettings(optimizer="sgd", lr=0.1,
                                                              weight_decay=1e-4))
    assert isinstance(opt, torch.optim.SGD)
    group = opt.param_groups[0]
    assert (group["lr"], group["momentum"], group["nesterov"], group["weight_decay"]) == (
        0.1, 0.9, True, 1e-4)
    assert isinstance(make_optimizer(torch.nn.Linear(2, 2), TrainSettings()), torch.optim.Adam)


def test_separation_numbers_against_scipy_and_a_known_shift():
    from scipy.stats import wasserstein_distance
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(1.0, 1.0, 20000), rng.normal(0.0, 1.0, 20000)])
    corrupted = np.arange(40000) >= 20000
    sep = separation(values, corrupted)
    assert sep["cohens_d"] == pytest.approx(1.0, abs=0.03)
    assert sep["wasserstein"] == pytest.approx(
        wasserstein_distance(values[~corrupted], values[corrupted]))
