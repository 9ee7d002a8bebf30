"""One experiment as a plain function of typed settings (no Hydra here):

check -> data -> noise -> training plan -> detector -> scores -> one record.
Tests, the Python API and the Hydra entry point (run.py) all call ``run_and_record``.
Everything that can be wrong with the input is checked in ``prepare``, before any training;
those failures are raised as ``errors.UserError`` (a ValueError).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from robustloss import data as datasets
from robustloss.components import losses, models
from robustloss.components.noise import check_noise, corrupt, transition_counts
from robustloss.detection.detect import DETECTORS, check_detector_params, evidence_of
from robustloss.detection.judge import NoisyLabels, judge
from robustloss.detection.metrics import detection_scores
from robustloss.errors import UserError, as_user_errors, check_choice
from robustloss.experiments.provenance import (
    close_stamp,
    describe_cpu,
    describe_device,
    resolve_device,
    take_stamp,
)
from robustloss.experiments.settings import (  # noqa: F401  (re-exported: the API's names)
    PIPELINE_VERSION,
    PROTOCOLS,
    Component,
    DatasetSettings,
    ExperimentSettings,
    LossSettings,
    NoiseSettings,
)
from robustloss.records import CorruptRecordError, RecordStore, check_writable
from robustloss.training import finished_folds
from robustloss.training.crossval import check_folds
from robustloss.training.dynamics import DYNAMICS_LEVELS, check_level
from robustloss.training.plan import TrainingPlan

log = logging.getLogger(__name__)


def validate(settings: ExperimentSettings) -> None:
    """Fail fast, before any data is read or model trained, on names and ranges."""
    datasets.DATASETS.get(settings.dataset.name)
    models.MODELS.get(settings.model.name)
    check_detector_params(settings.detector.name, settings.detector.params)
    losses.LossSchedule(losses.build(settings.loss.name, 2, **settings.loss.params), settings.loss.delay)
    check_choice("protocol", settings.protocol, PROTOCOLS)
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


def check_noise_fits(noise, dataset: str, data: datasets.LabelledData) -> None:
    """The noise kind can be generated for this dataset (asymmetric needs its class map);
    a dataset with human labels takes no synthetic noise of another kind."""
    if data.given_labels is not None and noise.kind != "symmetric":
        raise ValueError(f"noise.kind={noise.kind}: dataset {dataset!r} ships human labels, "
                         "which replace synthetic noise; use another dataset or noise=symmetric")
    check_noise(noise.kind, noise.rate, noise.mode, dataset, data.num_classes, noise.flips,
                noise.spread)


def _fingerprint(data: datasets.LabelledData) -> str:
    """Hash of everything read from disk: images, labels, human labels, test split."""
    digest = hashlib.sha256()
    for part in (data.images, data.labels, data.given_labels, data.test_images, data.test_labels):
        if part is not None:
            digest.update(np.ascontiguousarray(np.asarray(part)).tobytes())
    return digest.hexdigest()[:16]


@dataclass
class Prepared:
    """What an experiment needs, loaded and checked before any training."""

    data: datasets.LabelledData
    sample_index: np.ndarray
    schedule: losses.LossSchedule
    make_model: object
    device: torch.device
    seconds: float


def prepare(settings: ExperimentSettings) -> Prepared:
    """Validate, load the data and check that it fits the settings (subset size, classes,
    folds, model outputs). Every failure is a UserError naming the setting or file."""
    t0 = time.perf_counter()
    with as_user_errors():
        validate(settings)
        ds = settings.dataset
        full = datasets.load(ds.name, ds.root, **ds.params)
        if ds.subset is not None and ds.subset > len(full):
            raise ValueError(f"dataset.subset {ds.subset} is larger than dataset {ds.name!r} "
                             f"({len(full)} training samples)")
        sample_index = full.subset_indices(ds.subset)
        data = full.take(sample_index)
        loss = losses.build(settings.loss.name, data.num_classes, **settings.loss.params)
        schedule = losses.LossSchedule(loss, settings.loss.delay)
        input_shape = tuple(data.images.shape[1:])

        def make_model(num_outputs: int | None = None):
            return models.build(settings.model.name, input_shape, num_outputs or data.num_classes,
                                **settings.model.params)

        check_model(make_model, input_shape, data.num_classes, settings.detector.name)
        check_noise_fits(settings.noise, settings.dataset.name, data)
        if evidence_of(settings.detector.name) == "training_runs":  # the plan fits the data
            DETECTORS.create(settings.detector.name, settings.detector.params).check(
                len(data), data.num_classes, settings.train.epochs)
        elif settings.protocol == "test_set" and data.test_images is None:
            raise ValueError(f"protocol test_set needs a dataset with a test split; "
                             f"{data.name!r} has none")
        elif settings.protocol == "crossval":
            check_folds(data.given_labels if data.given_labels is not None else data.labels,
                        settings.folds)
        device = resolve_device(settings.device)
    return Prepared(data, sample_index, schedule, make_model, device, time.perf_counter() - t0)


def noisy_labels(settings: ExperimentSettings, data: datasets.LabelledData,
                 device: torch.device | str = "cpu") -> NoisyLabels:
    """The labels the detector judges: the training set's human labels where the dataset ships
    them, else its clean labels corrupted by ``settings.noise`` (seeded by ``settings.seed``);
    under protocol test_set, the test split's labels, corrupted (``device``: where instance
    noise projects the images)."""
    if settings.protocol == "test_set":  # prepare() checked that the test split exists
        labels, given, images = data.test_labels, None, data.test_images
    else:
        labels, given, images = data.labels, data.given_labels, data.images
    if given is not None:
        noisy = given.astype(np.int64)
        return NoisyLabels(noisy, labels, noisy != labels)
    noise = settings.noise
    noisy, corrupted = corrupt(noise.kind, labels, data.num_classes, noise.rate, settings.seed,
                               noise.mode, dataset=settings.dataset.name, images=images,
                               flips=noise.flips, spread=noise.spread, device=device)
    return NoisyLabels(noisy, labels, corrupted)


def resume_key(settings: ExperimentSettings, plan: TrainingPlan, fingerprint: str) -> dict:
    """What a fold kept by a killed run must share with this run to be used in its place: the
    experiment, the data read, the arithmetic and the device that ran it."""
    device = describe_device(plan.device)
    return {"experiment": settings.id, "data": fingerprint, "precision": plan.precision.name,
            "channels_last": plan.precision.channels_last, "device": device["name"],
            "cpu_flags": describe_cpu()["flags"] if plan.device.type == "cpu" else None}


def run_experiment(settings: ExperimentSettings, progress: bool = True,
                   cache_dir: str | Path | None = None,
                   prepared: Prepared | None = None,
                   stamp: dict | None = None) -> tuple[dict, dict]:
    """Run one experiment. Returns (record without id/config, arrays for the .npz).
    ``cache_dir``: where the test-set protocol may share trained predictions across eta, and
    cross-validation keeps finished folds for a re-run after a kill (``finished_folds``);
    ``stamp``: the provenance taken when the run started (default: now, before training)."""
    stamp = stamp or take_stamp()
    p = prepared or prepare(settings)
    data, sample_index, make_model, device = p.data, p.sample_index, p.make_model, p.device
    schedule, input_shape = p.schedule, tuple(p.data.images.shape[1:])
    t0 = time.perf_counter() - p.seconds
    t_loaded = time.perf_counter()
    plan = TrainingPlan.resolve(settings.train, device)
    fingerprint = _fingerprint(data)
    labels = noisy_labels(settings, data, plan.device)
    finished = None if cache_dir is None else finished_folds.FinishedFolds(
        finished_folds.folder_of(cache_dir, settings.id), resume_key(settings, plan, fingerprint),
        {"commit": stamp["commit"], "dirty": stamp["dirty"], "started": stamp["started"]})
    result = judge(settings, data, labels, make_model, schedule, plan, progress, cache_dir, finished)
    t_judged = time.perf_counter()
    earlier = finished_folds.resumed_seconds(result.runs)

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
                  "kind": settings.noise.kind if data.given_labels is None else "human",
                  "rate_realised": float(result.corrupted.mean()),
                  # rows: given label, columns: true label, over every row
                  "transitions": transition_counts(result.noisy, result.true,
                                                   data.num_classes).tolist()},
        "folds": result.runs,
        "dynamics": settings.dynamics,
        "timings": {
            "load_seconds": t_loaded - t0,
            "training_and_detection_seconds": t_judged - t_loaded,
            # folds taken from a killed earlier run count with the time they took there
            "earlier_runs_seconds": earlier,
            "total_seconds": t_judged - t0 + earlier,
            "samples_per_second": sum(f["n_train"] for f in result.runs)
            * settings.train.epochs / train_seconds,
        },
        "data": {"num_samples": len(data), "num_classes": data.num_classes,
                 "num_judged": int(scored.sum()), "input_shape": list(input_shape),
                 "fingerprint": fingerprint},
        "device": describe_device(device),
        "arithmetic": result.plan.arithmetic(),
        "provenance": close_stamp(stamp),
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


def has_dynamics(record: dict, wanted: str) -> bool:
    """A stored record serves a request when it recorded at least the dynamics asked for."""
    levels = list(DYNAMICS_LEVELS)
    return levels.index(record.get("dynamics", "none")) >= levels.index(wanted)


def run_and_record(
    settings: ExperimentSettings, results_dir: str, force: bool = False,
    config: dict | None = None, progress: bool = True, overrides: list[str] | None = None,
) -> tuple[dict, bool]:
    """Run the experiment unless its record exists (or ``force``), and write the record.

    Returns (record, ran): ``ran`` is False when an existing record was reused. A record
    that exists but cannot be read is reported and re-run, never used. ``config`` (the full
    resolved config) is stored in the record beside the settings; ``overrides`` (the
    command line's, or a sweep job's own) go into its provenance, taken before any data is read.
    """
    stamp = take_stamp()
    if overrides is not None:
        stamp["overrides"] = list(overrides)
    with as_user_errors():
        validate(settings)
        store, rid = RecordStore(check_writable(results_dir)), settings.id
    if not force:
        try:
            existing = store.load(rid)
        except CorruptRecordError as err:
            log.warning("%s; re-running the experiment", err)
            existing = None
        if existing is not None and has_dynamics(existing, settings.dynamics):
            return existing, False
        if existing is not None:
            log.info("record %s lacks dynamics=%s; re-running it", rid, settings.dynamics)
    if force:  # computed again from the start: no fold kept by an earlier, killed run
        shutil.rmtree(finished_folds.folder_of(store.root / "predictions", rid), ignore_errors=True)
    prepared = prepare(settings)
    record, arrays = run_experiment(settings, progress, store.root / "predictions", prepared, stamp)
    record = {"id": rid, **record, "config": config or record["settings"]}
    try:
        store.write(record, arrays)
    except OSError as err:  # a full disk, a quota, a vanished mount: say so in one line
        raise UserError(f"results_dir {store.root}: cannot write record {rid} "
                        f"({err.strerror or err}); nothing partial was left and earlier records "
                        "are intact; free space and re-run (finished records are skipped)") from None
    shutil.rmtree(finished_folds.folder_of(store.root / "predictions", rid), ignore_errors=True)
    return store.load(rid), True  # as stored (JSON types), same as a skipped run returns
