"""One experiment as a plain function of typed settings (no Hydra here):

data -> noise -> K-fold cross-validation -> detector -> scores -> one record.
Tests, the Python API and the Hydra entry point (run.py) all call ``run_and_record``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robustloss import data as datasets
from robustloss import losses, models
from robustloss.crossval import CrossValSettings
from robustloss.detect import check_detector_params, evidence_of
from robustloss.dynamics import DYNAMICS_LEVELS, check_level
from robustloss.judge import judge
from robustloss.metrics import detection_scores
from robustloss.noise import NOISE_MODES, check_rate
from robustloss.provenance import describe_device, git_commit, package_versions, resolve_device
from robustloss.records import CorruptRecordError, RecordStore, record_id
from robustloss.train import TrainSettings

log = logging.getLogger(__name__)

# Bumped whenever a change to the code changes results, so old records are not reused.
# 2: ANL-FL's NNFL term takes (1-p)^gamma as constant weights; predictions in float32.
# 3: inputs are raw 0-255 pixel values by default (train.inputs), as the authors trained;
#    train.precision replaces train.amp; a last batch of one sample joins the one before.
PIPELINE_VERSION = 3

# Parameters that change where or how things are read, not the result.
NOT_IDENTITY = {
    "dataset": ("download", "verify", "labels_path", "label_errors_path"),
    "model": ("allow_download",),
    "detector": ("n_jobs",),
}

PROTOCOLS = {
    "crossval": "K-fold cross-validation on the (noisy) training set; detect on the training set",
    "test_set": "train once on the training set as given; corrupt, predict and detect on the test "
                "set (paper Table 3, cleaned CIFAR-100 test set)",
}


@dataclass(frozen=True)
class Component:
    """A named registry entry plus its keyword parameters (e.g. loss ``blurry``, gamma=0.4)."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_flat(cls, values: dict):
        """From a flat config block: ``name``, the class's own fields, the rest -> params."""
        values = dict(values)
        if "name" not in values:
            raise ValueError(f"component settings need a 'name', got keys {sorted(values)}")
        own = {f.name for f in fields(cls)} - {"params"}
        return cls(**{k: values.pop(k) for k in own if k in values}, params=values)


@dataclass(frozen=True)
class DatasetSettings(Component):
    root: str | None = None  # data folder; not part of the experiment's identity
    subset: int | None = None  # use a random subset of this many training samples


# The paper's CE warm-up per loss when a config does not say (conf/loss/*.yaml do).
DEFAULT_DELAY = {"piecewise_zero": 1}


def _as_float(value):
    """Numbers as floats (gamma=1 and gamma=1.0 are one experiment); others unchanged."""
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


@dataclass(frozen=True)
class LossSettings(Component):
    delay: int = 0  # epochs of CE warm-up before the loss takes over

    @classmethod
    def from_flat(cls, values: dict):
        values = {k: (v if k in ("name", "delay") else _as_float(v)) for k, v in values.items()}
        values.setdefault("delay", DEFAULT_DELAY.get(values.get("name"), 0))
        return super().from_flat(values)


@dataclass(frozen=True)
class NoiseSettings:
    rate: float = 0.2
    mode: str = "exact"

    def __post_init__(self):
        object.__setattr__(self, "rate", float(self.rate))


@dataclass(frozen=True)
class ExperimentSettings:
    dataset: DatasetSettings
    loss: LossSettings
    model: Component
    detector: Component
    noise: NoiseSettings = NoiseSettings()
    train: TrainSettings = TrainSettings()
    folds: int = 5
    cv: CrossValSettings = CrossValSettings()
    protocol: str = "crossval"  # see PROTOCOLS
    seed: int = 0
    device: str = "auto"  # not part of the identity: the same experiment on another device
    dynamics: str = "none"  # DYNAMICS_LEVELS; not part of the identity (adds arrays only)

    @classmethod
    def from_dict(cls, cfg: dict) -> ExperimentSettings:
        """Build from a plain (resolved) config dict; keys outside the settings are ignored."""
        for block, kind in (("train", TrainSettings), ("noise", NoiseSettings),
                            ("cv", CrossValSettings)):
            known = {f.name for f in fields(kind)}
            unknown = sorted(set(cfg.get(block, {})) - known)
            if unknown:
                raise ValueError(f"unknown {block} setting(s) {unknown}; valid: {sorted(known)}")
        return cls(
            dataset=DatasetSettings.from_flat(cfg["dataset"]),
            loss=LossSettings.from_flat(cfg["loss"]),
            model=Component.from_flat(cfg["model"]),
            detector=Component.from_flat(cfg["detector"]),
            noise=NoiseSettings(**cfg.get("noise", {})),
            train=TrainSettings(**cfg.get("train", {})),
            folds=int(cfg.get("folds", 5)),
            cv=CrossValSettings(**cfg.get("cv", {})),
            protocol=str(cfg.get("protocol", "crossval")),
            seed=int(cfg.get("seed", 0)),
            device=str(cfg.get("device", "auto")),
            dynamics=str(cfg.get("dynamics", "none")),
        )

    def identity(self) -> dict:
        """The values that change the result (not paths, devices, downloads or logging)."""
        values = asdict(self)
        values["dataset"].pop("root")
        values.pop("device")
        values.pop("dynamics")
        for part, names in NOT_IDENTITY.items():
            for name in names:
                values[part]["params"].pop(name, None)
        values["pipeline_version"] = PIPELINE_VERSION
        return values

    @property
    def id(self) -> str:
        return record_id(self.identity())


def validate(settings: ExperimentSettings) -> None:
    """Fail fast, before any data is read or model trained, on names and ranges."""
    datasets.DATASETS.get(settings.dataset.name)
    models.MODELS.get(settings.model.name)
    check_detector_params(settings.detector.name, settings.detector.params)
    check_rate(settings.noise.rate)
    if settings.noise.mode not in NOISE_MODES:
        raise ValueError(f"unknown noise mode {settings.noise.mode!r}; valid: {', '.join(NOISE_MODES)}")
    losses.LossSchedule(losses.build(settings.loss.name, 2, **settings.loss.params), settings.loss.delay)
    if settings.folds < 2:
        raise ValueError(f"folds must be >= 2, got {settings.folds}")
    if settings.protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {settings.protocol!r}; valid: {', '.join(PROTOCOLS)}")
    if evidence_of(settings.detector.name) == "training_runs" and settings.protocol != "crossval":
        raise ValueError(f"detector {settings.detector.name!r} judges from training runs on the "
                         f"training set; protocol {settings.protocol!r} is not supported with it")
    check_level(settings.dynamics)
    if settings.loss.delay >= settings.train.epochs and settings.loss.name != "ce":
        raise ValueError(f"loss.delay {settings.loss.delay} >= train.epochs "
                         f"{settings.train.epochs}: the run would train plain CE throughout")
    resolve_device(settings.device)


def check_model(make_model, input_shape, num_classes: int, detector: str) -> None:
    """Bad model parameters fail here, before any training; a detector that trains on K + 1
    outputs (AUM's fake class) needs a model that can produce them."""
    outputs = num_classes + 1 if evidence_of(detector) == "training_runs" else num_classes
    model = make_model(outputs)
    with torch.no_grad():
        shape = tuple(model.eval()(torch.zeros(2, *input_shape)).shape)
    if shape != (2, outputs):
        raise ValueError(f"detector {detector!r} needs a model with {outputs} outputs "
                         f"({num_classes} classes + 1); the model gives {shape[1:]}")


def authors_code_behaviours(settings: ExperimentSettings) -> dict[str, bool]:
    """Which of the authors'-code deviations from the paper's protocol a run has on
    (conf/fidelity/authors_code.yaml turns on all of them)."""
    return {
        "bernoulli_noise": settings.noise.mode == "bernoulli",
        "unstratified_kfold_123": settings.cv.split == "kfold" and settings.cv.split_seed == 123,
        "model_carried_over_folds": settings.cv.carry_model,
        "fp16_amp_grad_scaler": settings.train.precision == "fp16",
    }


def _fingerprint(data: datasets.LabelledData) -> str:
    """Hash of everything read from disk: images, labels, human labels, test split."""
    digest = hashlib.sha256()
    for part in (data.images, data.labels, data.given_labels, data.test_images, data.test_labels):
        if part is not None:
            digest.update(np.ascontiguousarray(np.asarray(part)).tobytes())
    return digest.hexdigest()[:16]


def run_experiment(settings: ExperimentSettings, progress: bool = True,
                   cache_dir: str | Path | None = None) -> tuple[dict, dict]:
    """Run one experiment. Returns (record without id/config, arrays for the .npz).
    ``cache_dir``: where the test-set protocol may share trained predictions across eta."""
    validate(settings)
    t0 = time.perf_counter()
    ds = settings.dataset
    full = datasets.load(ds.name, ds.root, **ds.params)
    sample_index = full.subset_indices(ds.subset)
    data = full.take(sample_index)
    loss = losses.build(settings.loss.name, data.num_classes, **settings.loss.params)
    schedule = losses.LossSchedule(loss, settings.loss.delay)
    input_shape = tuple(data.images.shape[1:])

    def make_model(num_outputs: int | None = None):
        return models.build(settings.model.name, input_shape, num_outputs or data.num_classes,
                            **settings.model.params)

    check_model(make_model, input_shape, data.num_classes, settings.detector.name)
    device = resolve_device(settings.device)
    t_loaded = time.perf_counter()
    result = judge(settings, data, make_model, schedule, device, progress, cache_dir)
    t_judged = time.perf_counter()

    scored = result.judged
    metrics = detection_scores(result.flagged[scored], result.corrupted[scored])
    metrics.update(result.metrics, noise_rate_realised=float(result.corrupted.mean()))
    train_seconds = sum(f["train_seconds"] for f in result.runs)
    record = {
        "identity": settings.identity(),
        "settings": asdict(settings),
        "metrics": metrics,
        "authors_code_behaviours": authors_code_behaviours(settings),
        "noise": {"source": "synthetic" if data.given_labels is None else "human",
                  "rate_realised": float(result.corrupted.mean())},
        "folds": result.runs,
        "dynamics": settings.dynamics,
        "timings": {
            "load_seconds": t_loaded - t0,
            "training_and_detection_seconds": t_judged - t_loaded,
            "total_seconds": t_judged - t0,
            "samples_per_second": sum(f["n_train"] for f in result.runs)
            * settings.train.epochs / train_seconds,
        },
        "data": {"num_samples": len(data), "num_classes": data.num_classes,
                 "num_judged": int(scored.sum()), "input_shape": list(input_shape),
                 "fingerprint": _fingerprint(data)},
        "device": describe_device(device),
        "versions": package_versions(),
        "git": git_commit(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    arrays = {
        "noisy_labels": result.noisy, "true_labels": result.true, "corrupted": result.corrupted,
        "flagged": result.flagged, "judged": result.judged, **result.arrays,
        # row -> index in the dataset file (test-set protocol: in the test split)
        "sample_index": (np.arange(len(result.noisy)) if settings.protocol == "test_set"
                         else sample_index),
    }
    return record, arrays


def _has_dynamics(record: dict, wanted: str) -> bool:
    """A stored record serves a request when it recorded at least the dynamics asked for."""
    levels = list(DYNAMICS_LEVELS)
    return levels.index(record.get("dynamics", "none")) >= levels.index(wanted)


def run_and_record(
    settings: ExperimentSettings, results_dir: str, force: bool = False,
    config: dict | None = None, progress: bool = True,
) -> tuple[dict, bool]:
    """Run the experiment unless its record exists (or ``force``), and write the record.

    Returns (record, ran): ``ran`` is False when an existing record was reused. A record
    that exists but cannot be read is reported and re-run, never used. ``config`` (the full
    resolved config) is stored in the record beside the settings.
    """
    validate(settings)
    store, rid = RecordStore(results_dir), settings.id
    if not force:
        try:
            existing = store.load(rid)
        except CorruptRecordError as err:
            log.warning("%s; re-running the experiment", err)
            existing = None
        if existing is not None and _has_dynamics(existing, settings.dynamics):
            return existing, False
        if existing is not None:
            log.info("record %s lacks dynamics=%s; re-running it", rid, settings.dynamics)
    record, arrays = run_experiment(settings, progress, cache_dir=store.root / "predictions")
    record = {"id": rid, **record, "config": config or record["settings"]}
    store.write(record, arrays)
    return store.load(rid), True  # as stored (JSON types), same as a skipped run returns
