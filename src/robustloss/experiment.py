"""One experiment as a plain function of typed settings (no Hydra here):

data -> noise -> K-fold cross-validation -> detector -> scores -> one record.
Tests, the Python API and the Hydra entry point (run.py) all call ``run_and_record``.
"""

from __future__ import annotations

import hashlib
import json
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
from robustloss.crossval import CrossValSettings, cross_validate, fit_and_predict, progress_bar
from robustloss.detect import check_detector_params, detect
from robustloss.metrics import accuracy, detection_scores
from robustloss.noise import NOISE_MODES, check_rate, corrupt_labels
from robustloss.provenance import describe_device, git_commit, package_versions, resolve_device
from robustloss.records import CorruptRecordError, RecordStore, atomic_write, record_id
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
        )

    def identity(self) -> dict:
        """The values that change the result (not paths, devices, downloads or logging)."""
        values = asdict(self)
        values["dataset"].pop("root")
        values.pop("device")
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
    resolve_device(settings.device)


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


@dataclass
class Predictions:
    """What the detector sees and is scored on. Arrays have one row per judged sample."""

    noisy: np.ndarray          # int (n,) labels given to the detector
    true: np.ndarray           # int (n,) clean labels
    corrupted: np.ndarray      # bool (n,) noisy != true
    probabilities: np.ndarray  # float (n, K) predicted by models that never trained on the row
    fold_of: np.ndarray        # int (n,) fold that predicted the row (0 for the test-set protocol)
    folds: list[dict]


def _noisy_labels(settings, labels, given, num_classes):
    if given is not None:  # human label noise replaces synthetic noise
        noisy = given.astype(np.int64)
        return noisy, noisy != labels
    return corrupt_labels(labels, num_classes, settings.noise.rate, settings.seed,
                          settings.noise.mode)


def _test_set_probabilities(settings, data, make_model, schedule, device, progress, cache_dir):
    """Train on the training set as given, predict the test set. Training does not depend on
    the noise rate or the detector, so the probabilities are cached under ``cache_dir`` and
    shared by every eta of a sweep."""
    key = {k: v for k, v in settings.identity().items() if k not in ("noise", "detector")}
    path = None if cache_dir is None else Path(cache_dir) / f"{record_id(key)}.npz"
    if path is not None and path.exists():
        with np.load(path) as cached:
            return cached["probabilities"], json.loads(str(cached["stats"]))
    with progress_bar(settings.train.epochs, progress) as bar:
        probs, stats, _ = fit_and_predict(
            make_model, data.images.to(device),
            torch.as_tensor(data.labels, dtype=torch.int64, device=device),
            data.test_images.to(device), schedule, settings.train, settings.seed * 1000, bar)
    probs = probs.cpu().numpy()
    if path is not None:
        atomic_write(path, lambda h: np.savez(h, probabilities=probs, stats=json.dumps(stats)))
    return probs, stats


def _predict(settings, data, make_model, schedule, device, progress, cache_dir) -> Predictions:
    if settings.protocol == "test_set":
        if data.test_images is None:
            raise ValueError(f"protocol test_set needs a dataset with a test split; "
                             f"{data.name!r} has none")
        noisy, corrupted = _noisy_labels(settings, data.test_labels, None, data.num_classes)
        probs, stats = _test_set_probabilities(settings, data, make_model, schedule, device,
                                               progress, cache_dir)
        return Predictions(noisy, data.test_labels, corrupted, probs,
                           np.zeros(len(noisy), dtype=np.int64), [stats])
    noisy, corrupted = _noisy_labels(settings, data.labels, data.given_labels, data.num_classes)
    result = cross_validate(data.images, noisy, data.num_classes, make_model, schedule,
                            settings.train, settings.folds, settings.seed, device, progress,
                            settings.cv)
    return Predictions(noisy, data.labels, corrupted, result.probabilities, result.fold_of,
                       result.folds)


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

    def make_model():
        return models.build(settings.model.name, input_shape, data.num_classes,
                            **settings.model.params)

    make_model()  # bad model parameters fail here, before any training
    device = resolve_device(settings.device)
    t_loaded = time.perf_counter()
    pred = _predict(settings, data, make_model, schedule, device, progress, cache_dir)
    t_trained = time.perf_counter()
    flagged = detect(settings.detector.name, pred.noisy, pred.probabilities, **settings.detector.params)
    t_detected = time.perf_counter()

    metrics = detection_scores(flagged, pred.corrupted)
    metrics.update(
        accuracy_noisy=accuracy(pred.probabilities, pred.noisy),
        accuracy_true=accuracy(pred.probabilities, pred.true),
        noise_rate_realised=float(pred.corrupted.mean()),
    )
    for fold in pred.folds:
        held = pred.fold_of == fold["fold"]
        fold["accuracy_noisy"] = accuracy(pred.probabilities[held], pred.noisy[held])
        fold["accuracy_true"] = accuracy(pred.probabilities[held], pred.true[held])
    train_seconds = sum(f["train_seconds"] for f in pred.folds)
    record = {
        "identity": settings.identity(),
        "settings": asdict(settings),
        "metrics": metrics,
        "authors_code_behaviours": authors_code_behaviours(settings),
        "noise": {"source": "synthetic" if data.given_labels is None else "human",
                  "rate_realised": float(pred.corrupted.mean())},
        "folds": pred.folds,
        "timings": {
            "load_seconds": t_loaded - t0,
            "training_seconds": t_trained - t_loaded,
            "detect_seconds": t_detected - t_trained,
            "total_seconds": t_detected - t0,
            "samples_per_second": sum(f["n_train"] for f in pred.folds)
            * settings.train.epochs / train_seconds,
        },
        "data": {"num_samples": len(data), "num_classes": data.num_classes,
                 "num_judged": len(pred.noisy), "input_shape": list(input_shape),
                 "fingerprint": _fingerprint(data)},
        "device": describe_device(device),
        "versions": package_versions(),
        "git": git_commit(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    arrays = {
        "noisy_labels": pred.noisy, "true_labels": pred.true, "corrupted": pred.corrupted,
        "probabilities": pred.probabilities, "fold_of": pred.fold_of, "flagged": flagged,
        # row -> index in the dataset file (test-set protocol: in the test split)
        "sample_index": (np.arange(len(pred.noisy)) if settings.protocol == "test_set"
                         else sample_index),
    }
    return record, arrays


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
        if existing is not None:
            return existing, False
    record, arrays = run_experiment(settings, progress, cache_dir=store.root / "predictions")
    record = {"id": rid, **record, "config": config or record["settings"]}
    store.write(record, arrays)
    return store.load(rid), True  # as stored (JSON types), same as a skipped run returns
