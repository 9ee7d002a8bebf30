"""``find_label_issues``: the label errors in a practitioner's own data, as a DataFrame.

No synthetic noise and no known truth: the given labels are the ones checked. The samples
are cross-validated (K folds, a fresh model per fold) under a robust loss, cleanlab's
Confident Learning flags the labels the out-of-fold probabilities contradict, and every
sample gets a rank (most suspicious first), its given and suggested class, their
probabilities and cleanlab's label-quality score.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from robustloss.components import losses, models
from robustloss.detection.detect import confident_learning
from robustloss.errors import as_user_errors, check_choice, check_integer
from robustloss.experiments.provenance import resolve_device
from robustloss.experiments.settings import DEFAULT_DELAY
from robustloss.find.choose import (
    GATED_LARGEST,
    LARGEST,
    PARAMETER_OF,
    RULES_ON_READINGS,
    SPREAD_RATIO,
    SPREAD_SLOPE,
    UNSURE_GATE,
    NoiseEstimate,
    estimate_noise,
    estimate_noise_rate,
    parameter_for_noise,
)
from robustloss.find.inputs import UserData, check_classes, load_user_data
from robustloss.find.planting import DEFAULT_CONTROL, DEFAULT_FRACTION, choose_by_planting
from robustloss.reporting.label_issues import label_issues
from robustloss.training.augment import AUGMENTATIONS
from robustloss.training.crossval import CrossValSettings, cross_validate
from robustloss.training.plan import TrainingPlan
from robustloss.training.settings import TrainSettings

log = logging.getLogger("robustloss.find")
AUTO = "auto"
# Default confusion_spread_only since its own registered check
# (docs/measurements/pair_gate_preregistered.md: Fashion-MNIST class-dependent eta 0.2 and
# 0.3, seed 1, mean gap 0.019 against confusion_spread's 0.030). It is confusion_spread with
# the paper's value, not the capped raise, where the gate is shut and the wrong labels come
# in pairs. confusion_spread was the default since its own registered check
# (docs/measurements/spread_raise_preregistered.md: instance-dependent noise, seed 2, eta 0.3
# and 0.4 on both subsets, mean gap 0.002 against confusion_cap's 0.023; digits seeds 3-5,
# 0.004 against 0.004). It is confusion_cap with gamma >= 4 x flip (not 3 x) where the gate
# is shut and the wrong labels spread over several classes. confusion_cap was the default
# since its own registered check
# (docs/measurements/gated_caps_preregistered.md: instance-dependent eta 0.3 on both subsets,
# where a shut gate's paper value falls short of the best gamma;
# docs/find_issues_measurements.md: "Symmetric and instance-dependent noise on the subsets").
# It is confusion_gate with the structure rule
# (gamma <= 0.6) kept where the gate is shut. confusion_gate was chosen by a check fixed
# before it ran
# (docs/measurements/confusion_gate_preregistered.md): on held-out cases (5,000-image MNIST
# and Fashion-MNIST subsets, class-dependent eta 0.1 and 0.4) its mean gap to the best gamma
# in hindsight is 0.019 against 0.037 for noise_structure and 0.043 for noise_estimate (seed
# 0, as registered; with seed 1: 0.015 / 0.035 / 0.045;
# docs/find_issues_measurements.md: "How good is the automatic γ?",
# docs/measurements/confusion_gate_heldout.md). On digits (3 seeds, eta 0.1-0.4,
# real passes, one build) under symmetric / class-dependent / instance-dependent noise:
# confusion_gate 0.002 / -0.002 / 0.009, noise_structure 0.002 / 0.005 / 0.005,
# noise_estimate 0.002 / 0.053 / 0.008 (planting, earlier passes: 0.010 / 0.037 / 0.014).
AUTO_BY = {
    "noise_estimate": "read the value off the paper's best values at cleanlab's noise-rate "
                      "estimate (one pass after the cross-entropy pass; robustloss.find.choose)",
    "noise_structure": "as noise_estimate, and gamma at least 3x the estimated rate of a "
                       f"class's most common wrong label, up to {LARGEST['blurry']} (noise "
                       "concentrated in one wrong class needs a larger gamma; one pass after "
                       "the cross-entropy pass; robustloss.find.choose)",
    "confusion_gate": "as noise_structure with gamma up to "
                      f"{GATED_LARGEST['blurry']}, but only where the cross-entropy model's "
                      "largest probability is below 0.5 on at most "
                      f"{UNSURE_GATE:.0%} of the samples; where more, the data are hard for "
                      "the model and the value is noise_estimate's (one pass after the "
                      "cross-entropy pass; robustloss.find.choose)",
    "confusion_cap": "as confusion_gate, but where the model is unsure of more samples "
                     "than the gate allows, gamma is noise_structure's (up to "
                     f"{LARGEST['blurry']}) instead of noise_estimate's (one pass after the "
                     "cross-entropy pass; robustloss.find.choose)",
    "confusion_spread": "as confusion_cap, but where the model is unsure of more samples than "
                        "the gate allows and the wrong labels spread over several classes "
                        f"(flip rate at most {SPREAD_RATIO:.0%} of the noise rate), gamma is at "
                        f"least {SPREAD_SLOPE['blurry']:g}x the flip rate, up to "
                        f"{LARGEST['blurry']} (one pass after the cross-entropy pass; "
                        "robustloss.find.choose)",
    "confusion_spread_only": "as confusion_spread, but where the model is unsure of more "
                             "samples than the gate allows and the wrong labels come in pairs "
                             f"(flip rate above {SPREAD_RATIO:.0%} of the noise rate), the value is "
                             "noise_estimate's, as "
                             "under confusion_gate (one pass after the cross-entropy pass; "
                             "robustloss.find.choose)",
    "planting": "plant 5% known errors in the labels, keep the value that recovers them best "
                "(one pass per candidate after the cross-entropy pass; "
                "robustloss.find.planting)",
}
# How each fold's model is trained: "paper" is the paper's protocol (10 epochs, no
# augmentation, one model per fold); "strong" is find-issues' default, chosen by measurement
# (scripts/find_model_check.py on digits, 3 seeds, eta 0.2: Blurry Loss F1 +0.013 under
# symmetric and +0.026 under asymmetric noise for twice the time; a second model per fold
# added nothing more for twice that again; on 5,000-image subsets, symmetric eta 0.2, one
# seed: +0.015 on MNIST, -0.024 on Fashion-MNIST: README "A stronger model"). epochs / augment /
# members / width set on their own win over the protocol's. members: models per fold with
# different seeds, their probabilities averaged. width: the network's channels and hidden
# units times this (2: twice as wide lost 0.005 / 0.023 F1 on digits for 2.2x the time, so
# not adopted: README "A stronger model").
PROTOCOLS = {
    "paper": {"epochs": 10, "augment": "none", "members": 1, "width": 1},
    "strong": {"epochs": 20, "augment": "crop", "members": 1, "width": 1},
}
COMPARE = {"auto": "add what cross-entropy flags when its pass runs anyway (gamma/c auto)",
           "ce": "always add it (one more pass when gamma/c is fixed)", "none": "never"}


@dataclass(frozen=True)
class FindSettings:
    """How find_label_issues trains and judges.

    loss: any of robustloss.components.losses (default Blurry Loss, the paper's); gamma / c: Blurry
    Loss's / Piecewise-zero's parameter or "auto" (robustloss.find.choose). protocol: one
    of PROTOCOLS, the epochs, augmentation (images only), models per fold and network width;
    ``epochs``, ``augment``, ``members``, ``width`` left None take the protocol's. folds: the paper's 5. lr,
    batch_size: None = by input kind: images 3e-3 / 64 (a small CNN, inputs scaled to
    [0, 1]: our digits setting), feature vectors 1e-3 / 128 (an MLP head on standardised
    features). seed: folds, initialisation and batch order.
    auto_by: how "auto" chooses (AUTO_BY). compare: whether the result also says what plain
    cross-entropy + Confident Learning flags on the same folds (COMPARE).
    """

    loss: str = "blurry"
    gamma: float | str = AUTO
    c: float | str = AUTO
    folds: int = 5
    protocol: str = "strong"
    epochs: int | None = None
    augment: str | None = None
    members: int | None = None
    width: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    seed: int = 0
    device: str = "auto"
    auto_by: str = "confusion_spread_only"
    compare: str = "auto"

    def __post_init__(self):
        check_choice("loss", self.loss, tuple(losses.LOSSES.names()))
        check_choice("auto_by", self.auto_by, tuple(AUTO_BY))
        check_choice("compare", self.compare, tuple(COMPARE))
        check_choice("protocol", self.protocol, tuple(PROTOCOLS))
        check_integer("folds", self.folds, 2)
        for name in ("epochs", "members", "width"):
            if getattr(self, name) is not None:
                check_integer(name, getattr(self, name), 1)
        if self.augment is not None:
            check_choice("augment", self.augment, tuple(AUGMENTATIONS))
        check_integer("seed", self.seed, 0)
        for name in ("gamma", "c"):
            value = getattr(self, name)
            if value != AUTO and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise ValueError(f"{name} must be a number or 'auto', got {value!r}")

    def loss_params(self, noise: float | NoiseEstimate | None) -> dict:
        """The loss's parameters, with 'auto' resolved for the estimated noise: a rate (the
        paper's relation), or a NoiseEstimate (whose flip rate ``auto_by="noise_structure"``
        reads, and with it the unsure share ``"confusion_gate"``, ``"confusion_cap"`` and
        ``"confusion_spread"``);
        None only where nothing is automatic."""
        if self.loss not in PARAMETER_OF:
            return {}
        name = PARAMETER_OF[self.loss]
        value = getattr(self, name)
        if value != AUTO:
            return {name: float(value)}
        if isinstance(noise, NoiseEstimate):
            if self.auto_by in RULES_ON_READINGS:
                return {name: RULES_ON_READINGS[self.auto_by](self.loss, noise)}
            noise = noise.rate
        return {name: parameter_for_noise(self.loss, noise)}

    @property
    def needs_noise_estimate(self) -> bool:
        return self.loss in PARAMETER_OF and getattr(self, PARAMETER_OF[self.loss]) == AUTO

    def recipe(self, name: str):
        """epochs, augment, members or width: the value set, else the protocol's."""
        value = getattr(self, name)
        return PROTOCOLS[self.protocol][name] if value is None else value

    def describe_model(self, kind: str) -> str:
        """'5 folds x 20 epochs, crop, 2 models per fold, 2x wide' for the log and the report."""
        text = f"{self.folds} folds x {self.recipe('epochs')} epochs"
        if kind == "images" and self.recipe("augment") != "none":
            text += f", {self.recipe('augment')}"
        members, width = self.recipe("members"), self.recipe("width")
        text += f", {members} models per fold" if members > 1 else ""
        return text + (f", {width}x wide" if width > 1 else "")

    def train_settings(self, kind: str) -> TrainSettings:
        images = kind == "images"
        return TrainSettings(epochs=self.recipe("epochs"),
                             lr=self.lr or (3e-3 if images else 1e-3),
                             batch_size=self.batch_size or (64 if images else 128),
                             inputs="unit" if images else "raw",
                             augment=self.recipe("augment") if images else "none")


def model_for(data: UserData, width: int = 1):
    """A small CNN for images, an MLP head for feature vectors, ``width`` times as wide as
    the default; checked on two samples."""
    name = "small_cnn" if data.kind == "images" else "mlp"
    shape = tuple(data.inputs.shape[1:])

    def make_model():
        return models.build(name, shape, data.num_classes, widen=width)

    with torch.no_grad():
        make_model().eval()(data.inputs[:2].float())
    return make_model


def standardised(features: torch.Tensor) -> torch.Tensor:
    """Each feature to mean 0, standard deviation 1 over all rows (no labels used)."""
    return (features - features.mean(0)) / (features.std(0) + 1e-6)


def out_of_fold(data: UserData, settings: FindSettings, loss: str, params: dict,
                make_model, device, progress: bool, labels: np.ndarray | None = None
                ) -> np.ndarray:
    """Out-of-fold probabilities (N, K) of one cross-validated pass with ``loss`` on
    ``labels`` (default: the data's own): with more than one member per fold, the mean of
    the members' probabilities; member m's models are seeded as a cross-validation with
    seed ``seed + 1000 m`` on the folds of ``seed`` (member 0 is the one-model pass)."""
    labels = data.labels if labels is None else labels
    inputs = data.inputs if data.kind == "images" else standardised(data.inputs)
    schedule = losses.LossSchedule(losses.build(loss, data.num_classes, **params),
                                   DEFAULT_DELAY.get(loss, 0))  # the paper's CE warm-up (PZ: 1)
    plan = TrainingPlan.resolve(settings.train_settings(data.kind), device)
    members = settings.recipe("members")
    total = 0.0
    for member in range(members):
        result = cross_validate(inputs, labels, data.num_classes, make_model, schedule, plan,
                                folds=settings.folds, seed=settings.seed + 1000 * member,
                                progress=progress, cv=CrossValSettings(split_seed=settings.seed))
        total = total + result.probabilities
    return total / members


def find_label_issues(data: str | Path | UserData, settings: FindSettings | None = None,
                      progress: bool = True, label_column: str = "label",
                      labels_path: str | Path | None = None, image_size: int | None = None,
                      **overrides) -> pd.DataFrame:
    """The label issues of ``data`` (a path: image folder, .npz or feature table, see
    robustloss.find.inputs; or a UserData). ``overrides``: FindSettings fields (``loss``,
    ``gamma``, ...). Returns one row per sample, most suspicious first: rank, index (row in
    the input), sample, given_label, suggested_label (class names), p_given, p_suggested,
    label_quality (cleanlab's normalized margin; low = suspicious), flagged; with the
    cross-entropy comparison (``compare``) also flagged_ce and rank_ce. ``.attrs``:
    estimated_noise_rate, num_flagged, num_samples, loss, loss_params, choice (how an
    automatic value was chosen), passes, model (the training recipe), class_names, source, settings."""
    with as_user_errors():  # every input check, before any training
        unknown = sorted(set(overrides) - {f.name for f in fields(FindSettings)})
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}; valid: "
                             f"{[f.name for f in fields(FindSettings)]}")
        settings = replace(settings or FindSettings(), **overrides)
        if not isinstance(data, UserData):
            data = load_user_data(data, label_column, labels_path, image_size)
        check_classes(data, settings.folds)
        make_model = model_for(data, settings.recipe("width"))
        device = resolve_device(settings.device)
        losses.build(settings.loss, data.num_classes, **settings.loss_params(0.2))
    log.info("%s: %d samples, %d classes (%s)", data.source, len(data), data.num_classes, data.kind)
    passes = 0

    def run_pass(loss: str, params: dict, labels: np.ndarray | None = None) -> np.ndarray:
        nonlocal passes
        passes += 1
        log.info("pass %d: %s %s, %s%s", passes, loss, params or "",
                 settings.describe_model(data.kind),
                 " (labels with planted errors)" if labels is not None else "")
        return out_of_fold(data, settings, loss, params, make_model, device, progress, labels)

    auto, noise, eta, ce_probs, choice = settings.needs_noise_estimate, None, None, None, None
    if auto or settings.loss == "ce" or settings.compare == "ce":
        ce_probs = run_pass("ce", {})
        noise = estimate_noise(data.labels, ce_probs)
        eta = noise.rate
        log.info("estimated noise rate: %.1f%% (flip rate into the most common wrong class "
                 "%.1f%%; top class below 0.5 on %.1f%% of samples)", 100 * eta,
                 100 * noise.flip, 100 * noise.unsure)
        if eta > 0.5:
            log.warning("more than half of the labels look wrong to the cross-entropy model: "
                        "more likely the model is too weak for this data (try more --epochs) "
                        "than the labels that bad")
    if settings.loss == "ce":
        params, probs = {}, ce_probs
    elif auto and settings.auto_by == "planting":
        name = PARAMETER_OF[settings.loss]
        picked = choose_by_planting(
            settings.loss, data.labels, ce_probs,
            lambda value, labels: run_pass(settings.loss, {name: value}, labels),
            DEFAULT_FRACTION, settings.seed)
        params, probs = {name: picked.value}, picked.probs
        choice = {"by": "planting", "planted": picked.planted, "control": DEFAULT_CONTROL,
                  "recovery_f1": {str(v): round(f, 4) for v, f in picked.scores.items()}}
        log.info("%s chosen by planting %d errors: %s (recovery F1 %s)", name, picked.planted,
                 picked.value, choice["recovery_f1"])
    else:
        params = settings.loss_params(noise)
        if auto:
            choice = {"by": settings.auto_by, "estimated_noise_rate": eta,
                      "estimated_flip_rate": noise.flip, "unsure_share": noise.unsure}
        probs = run_pass(settings.loss, params)
        if eta is None:
            eta = estimate_noise_rate(data.labels, probs)
    flagged = confident_learning(data.labels, probs)
    table = issue_table(data, probs, flagged)
    if ce_probs is not None and settings.loss != "ce" and settings.compare != "none":
        table = with_comparison(table, issue_table(data, ce_probs,
                                                   confident_learning(data.labels, ce_probs)))
    table.attrs.update(
        estimated_noise_rate=eta, num_flagged=int(flagged.sum()), num_samples=len(data),
        loss=settings.loss, loss_params=params, choice=choice, passes=passes,
        model=settings.describe_model(data.kind),
        class_names=data.class_names, source=data.source, kind=data.kind,
        settings=asdict(settings))
    return table


def with_comparison(table: pd.DataFrame, ce_table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with cross-entropy's verdict per sample: flagged_ce, rank_ce."""
    ce = ce_table.set_index("index")[["flagged", "rank"]]
    extra = ce.reindex(table["index"]).to_numpy()
    out = table.copy()
    out["flagged_ce"] = extra[:, 0].astype(bool)
    out["rank_ce"] = extra[:, 1].astype(np.int64)
    out.attrs = dict(table.attrs)
    return out


def issue_table(data: UserData, probs: np.ndarray, flagged: np.ndarray) -> pd.DataFrame:
    """label_issues' columns with class names, ranked by label quality (lowest first)."""
    frame = label_issues(data.labels, probs, flagged)
    frame = frame.sort_values("label_quality", kind="stable").reset_index(drop=True)
    names = np.array(data.class_names, dtype=object)
    return pd.DataFrame({
        "rank": np.arange(1, len(frame) + 1),
        "index": frame["index"],
        "sample": np.array(data.sample_names, dtype=object)[frame["index"]],
        "given_label": names[frame["given_label"]],
        "suggested_label": names[frame["predicted_label"]],
        "p_given": frame["p_given"],
        "p_suggested": frame["p_predicted"],
        "label_quality": frame["label_quality"],
        "flagged": frame["flagged"],
    })
