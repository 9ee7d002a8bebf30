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
from robustloss.find.choose import (
    PARAMETER_OF,
    choose_loss,
    choose_parameter,
    estimate_noise,
)
from robustloss.find.inputs import UserData, check_classes, load_user_data
from robustloss.reporting.label_issues import label_issues
from robustloss.training.augment import AUGMENTATIONS
from robustloss.training.crossval import CrossValSettings, cross_validate
from robustloss.training.plan import TrainingPlan
from robustloss.training.train_settings import TrainSettings

log = logging.getLogger("robustloss.find")
AUTO = "auto"
# How each fold's model is trained: "paper" is the paper's protocol (10 epochs, no
# augmentation, one model per fold), the default; "strong" trains twice as long on random
# crops. On the first round of the declared benchmark (studies/find_issues_benchmark.md)
# strong led by 0.004 mean F1, under twice its noise (0.018): it gains on digits and MNIST,
# loses 0.03-0.04 on Fashion-MNIST, and costs twice the time, so the default is the paper's
# (amendment 2 dropped strong from the later rounds). epochs /
# augment / members set on their own win over the protocol's. members: models per fold with
# different seeds, their probabilities averaged.
PROTOCOLS = {
    "paper": {"epochs": 10, "augment": "none", "members": 1},
    "strong": {"epochs": 20, "augment": "crop", "members": 1},
}
COMPARE = {"auto": "add what cross-entropy flags when its pass runs anyway (gamma/c auto)",
           "ce": "always add it (one more pass when gamma/c is fixed)", "none": "never"}


@dataclass(frozen=True)
class FindSettings:
    """How find_label_issues trains and judges.

    loss: "auto" (the default: cross-entropy's flags where its pass estimates little noise,
    else Blurry Loss; robustloss.find.choose.choose_loss) or any of
    robustloss.components.losses; gamma / c: Blurry Loss's / Piecewise-zero's parameter, or
    "auto": chosen from a first cross-entropy pass (robustloss.find.choose.choose_parameter).
    protocol: one of PROTOCOLS, the epochs, augmentation (images only) and models per fold;
    ``epochs``, ``augment``, ``members`` left None take the protocol's. folds: the paper's 5.
    lr, batch_size: None = by input kind: images 3e-3 / 64 (a small CNN, inputs scaled to
    [0, 1]: our digits setting), feature vectors 1e-3 / 128 (an MLP head on standardised
    features). seed: folds, initialisation and batch order. compare: whether the result
    also says what plain cross-entropy + Confident Learning flags on the same folds (COMPARE).
    """

    loss: str = AUTO
    gamma: float | str = AUTO
    c: float | str = AUTO
    folds: int = 5
    protocol: str = "paper"
    epochs: int | None = None
    augment: str | None = None
    members: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    seed: int = 0
    device: str = "auto"
    compare: str = "auto"

    def __post_init__(self):
        check_choice("loss", self.loss, (AUTO, *losses.LOSSES.names()))
        check_choice("compare", self.compare, tuple(COMPARE))
        check_choice("protocol", self.protocol, tuple(PROTOCOLS))
        check_integer("folds", self.folds, 2)
        for name in ("epochs", "members"):
            if getattr(self, name) is not None:
                check_integer(name, getattr(self, name), 1)
        if self.augment is not None:
            check_choice("augment", self.augment, tuple(AUGMENTATIONS))
        check_integer("seed", self.seed, 0)
        for name in ("gamma", "c"):
            value = getattr(self, name)
            if value != AUTO and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise ValueError(f"{name} must be a number or 'auto', got {value!r}")

    @property
    def robust_loss(self) -> str:
        """The loss that runs unless the default's cross-entropy pass stands ("auto": Blurry)."""
        return "blurry" if self.loss == AUTO else self.loss

    @property
    def parameter_is_auto(self) -> bool:
        """Whether that loss's gamma / c is "auto" (chosen from a cross-entropy pass)."""
        name = PARAMETER_OF.get(self.robust_loss)
        return name is not None and getattr(self, name) == AUTO

    @property
    def needs_noise_estimate(self) -> bool:
        """Whether a cross-entropy pass must run first: for loss "auto" or a gamma / c "auto"."""
        return self.loss == AUTO or self.parameter_is_auto

    def fixed_params(self) -> dict:
        """The loss's parameter where it is a number ({} where it is "auto" or the loss has
        none)."""
        name = PARAMETER_OF.get(self.robust_loss)
        if name is None or self.parameter_is_auto:
            return {}
        return {name: float(getattr(self, name))}

    def recipe(self, name: str):
        """epochs, augment or members: the value set, else the protocol's."""
        value = getattr(self, name)
        return PROTOCOLS[self.protocol][name] if value is None else value

    def describe_model(self, kind: str) -> str:
        """'5 folds x 20 epochs, crop, 2 models per fold' for the log and the report."""
        text = f"{self.folds} folds x {self.recipe('epochs')} epochs"
        if kind == "images" and self.recipe("augment") != "none":
            text += f", {self.recipe('augment')}"
        members = self.recipe("members")
        return text + (f", {members} models per fold" if members > 1 else "")

    def train_settings(self, kind: str) -> TrainSettings:
        images = kind == "images"
        return TrainSettings(epochs=self.recipe("epochs"),
                             lr=self.lr or (3e-3 if images else 1e-3),
                             batch_size=self.batch_size or (64 if images else 128),
                             inputs="unit" if images else "raw",
                             augment=self.recipe("augment") if images else "none")


def model_for(data: UserData):
    """A small CNN for images, an MLP head for feature vectors; checked on two samples."""
    name = "small_cnn" if data.kind == "images" else "mlp"
    shape = tuple(data.inputs.shape[1:])

    def make_model():
        return models.build(name, shape, data.num_classes)

    with torch.no_grad():
        make_model().eval()(data.inputs[:2].float())
    return make_model


def standardised(features: torch.Tensor) -> torch.Tensor:
    """Each feature to mean 0, standard deviation 1 over all rows (no labels used)."""
    return (features - features.mean(0)) / (features.std(0) + 1e-6)


def out_of_fold(data: UserData, settings: FindSettings, loss: str, params: dict,
                make_model, device, progress: bool) -> np.ndarray:
    """Out-of-fold probabilities (N, K) of one cross-validated pass with ``loss`` on the
    data's labels: with more than one member per fold, the mean of the members'
    probabilities; member m's models are seeded as a cross-validation with seed
    ``seed + 1000 m`` on the folds of ``seed`` (member 0 is the one-model pass)."""
    inputs = data.inputs if data.kind == "images" else standardised(data.inputs)
    schedule = losses.LossSchedule(losses.build(loss, data.num_classes, **params),
                                   losses.default_delay(loss))  # the paper's CE warm-up (PZ: 1)
    plan = TrainingPlan.resolve(settings.train_settings(data.kind), device)
    members = settings.recipe("members")
    total = 0.0
    for member in range(members):
        result = cross_validate(inputs, data.labels, data.num_classes, make_model, schedule, plan,
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
    estimated_noise_rate, num_flagged, num_samples, loss (whose flags these are: "ce" or
    "blurry" where the setting is "auto"), loss_params, choice (how an automatic loss or
    value was chosen), passes, model (the training recipe), class_names, source, settings."""
    with as_user_errors():  # every input check, before any training
        unknown = sorted(set(overrides) - {f.name for f in fields(FindSettings)})
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}; valid: "
                             f"{[f.name for f in fields(FindSettings)]}")
        settings = replace(settings or FindSettings(), **overrides)
        if not isinstance(data, UserData):
            data = load_user_data(data, label_column, labels_path, image_size)
        check_classes(data, settings.folds)
        make_model = model_for(data)
        device = resolve_device(settings.device)
        losses.build(settings.robust_loss, data.num_classes, **settings.fixed_params())
    log.info("%s: %d samples, %d classes (%s)", data.source, len(data), data.num_classes, data.kind)
    passes = 0

    def run_pass(loss: str, params: dict) -> np.ndarray:
        nonlocal passes
        passes += 1
        log.info("pass %d: %s %s, %s", passes, loss, params or "", settings.describe_model(data.kind))
        return out_of_fold(data, settings, loss, params, make_model, device, progress)

    loss, noise, ce_probs, choice = settings.robust_loss, None, None, None
    params = settings.fixed_params()
    if settings.needs_noise_estimate or loss == "ce" or settings.compare == "ce":
        ce_probs = run_pass("ce", {})
        noise = estimate_noise(data.labels, ce_probs)
        log.info("estimated noise rate: %.1f%% (flip rate into the most common wrong class "
                 "%.1f%%)", 100 * noise.rate, 100 * noise.flip)
        if noise.rate > 0.5:
            log.warning("more than half of the labels look wrong to the cross-entropy model: "
                        "more likely the model is too weak for this data (try more --epochs) "
                        "than the labels that bad")
    reasons = []
    if settings.loss == AUTO:
        picked = choose_loss(noise)
        loss = picked.value
        reasons.append(picked.reason)
        log.info("loss: %s", picked.reason)
    if loss != "ce" and settings.parameter_is_auto:
        chosen = choose_parameter(loss, noise)
        params = {PARAMETER_OF[loss]: chosen.value}
        reasons.append(chosen.reason)
        log.info("%s = %g: %s", PARAMETER_OF[loss], chosen.value, chosen.reason)
    if reasons:
        choice = {"reason": " ".join(reasons), "estimated_noise_rate": noise.rate,
                  "estimated_flip_rate": noise.flip}
    probs = ce_probs if loss == "ce" else run_pass(loss, params)
    if noise is None:
        noise = estimate_noise(data.labels, probs)
    eta = noise.rate
    flagged = confident_learning(data.labels, probs)
    table = issue_table(data, probs, flagged)
    if ce_probs is not None and loss != "ce" and settings.compare != "none":
        table = with_comparison(table, issue_table(data, ce_probs,
                                                   confident_learning(data.labels, ce_probs)))
    table.attrs.update(
        estimated_noise_rate=eta, num_flagged=int(flagged.sum()), num_samples=len(data),
        loss=loss, loss_params=params, choice=choice, passes=passes,
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
