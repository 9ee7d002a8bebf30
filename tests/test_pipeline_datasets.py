"""Every dataset through the whole pipeline (Hydra app -> record): real MNIST when the shared
data is there, CIFAR-10, CIFAR-10N and the cleaned CIFAR-100 test set on generated files."""

import json
import subprocess
import sys

import numpy as np
import pytest

from robustloss.records import RecordStore

from .conftest import REPO, SHARED_DATA
from .fake_files import write_fake_cifar10, write_fake_cifar100, write_fake_human_labels


def run_app(tmp_path, *overrides):
    results = tmp_path / "records"
    out = subprocess.run(
        [sys.executable, "-m", "robustloss.run", *overrides, f"results_dir={results}",
         f"hydra.run.dir={tmp_path / 'hydra'}", "progress=false"],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    (path,) = results.glob("*.json")
    record = json.loads(path.read_text())
    return record, RecordStore(results).load_arrays(record["id"])


@pytest.mark.skipif(not (SHARED_DATA / "MNIST").exists(), reason="../shared/data/MNIST not present")
def test_one_epoch_mnist_on_a_2000_sample_subset(tmp_path):
    record, arrays = run_app(tmp_path, "dataset=mnist", f"dataset.root={SHARED_DATA}",
                             "dataset.subset=2000", "train.epochs=1", "loss=blurry")
    assert record["data"]["input_shape"] == [1, 28, 28]
    assert arrays["probabilities"].shape == (2000, 10)
    assert arrays["corrupted"].sum() == 400
    assert record["settings"]["train"]["lr"] == 1e-4 and record["settings"]["model"]["name"] == "small_cnn"
    assert record["metrics"]["accuracy_true"] > 0.3  # chance is 0.1; 25 steps at lr 1e-4 give ~0.4


def test_cifar10_on_generated_files(tmp_path):
    write_fake_cifar10(tmp_path, per_batch=20)
    record, arrays = run_app(tmp_path, "dataset=cifar10", f"dataset.root={tmp_path}",
                             "dataset.verify=false", "model=resnet32", "train.epochs=1", "folds=2")
    assert arrays["probabilities"].shape == (100, 10)
    assert record["settings"]["train"]["lr_milestones"] == [5]
    assert record["settings"]["train"]["lr_gamma"] == 0.1
    assert record["noise"]["source"] == "synthetic" and arrays["corrupted"].sum() == 20


def test_cifar10n_human_labels_replace_synthetic_noise(tmp_path):
    clean = write_fake_cifar10(tmp_path, per_batch=20)
    worse = clean.copy()
    worse[::4] = (clean[::4] + 3) % 10
    write_fake_human_labels(tmp_path / "CIFAR-N" / "CIFAR-10_human.pt",
                            {"clean_label": clean, "aggre_label": clean, "worse_label": worse})
    record, arrays = run_app(tmp_path, "dataset=cifar10n_worst", f"dataset.root={tmp_path}",
                             "dataset.verify=false", "model=resnet32", "train.epochs=1", "folds=2")
    np.testing.assert_array_equal(arrays["noisy_labels"], worse)
    np.testing.assert_array_equal(arrays["corrupted"], worse != clean)
    noise = record["noise"]
    assert (noise["source"], noise["kind"], noise["rate_realised"]) == ("human", "human", 0.25)
    counts = np.zeros((10, 10), dtype=int)
    np.add.at(counts, (worse, clean), 1)  # rows: given label, columns: true label
    assert noise["transitions"] == counts.tolist()


def test_cleaned_cifar100_test_set_protocol(tmp_path):
    write_fake_cifar100(tmp_path, train=200, test=40)
    errors = tmp_path / "mturk.json"
    errors.write_text(json.dumps([{"id": i, "mturk": {"given": 1}} for i in (0, 5, 9, 30)]
                                 + [{"id": 7, "mturk": {"given": 4}}]))
    record, arrays = run_app(tmp_path, "dataset=cifar100_cleaned_test", f"dataset.root={tmp_path}",
                             "dataset.verify=false", f"dataset.label_errors_path={errors}",
                             "model=resnet32", "train.epochs=1", "noise.rate=0.25")
    assert record["settings"]["protocol"] == "test_set"
    assert arrays["probabilities"].shape == (36, 100)      # 40 test images less 4 label errors
    assert arrays["corrupted"].sum() == 9                  # round(0.25 * 36) test labels corrupted
    assert len(record["folds"]) == 1 and record["folds"][0]["n_train"] == 200
    assert record["settings"]["train"]["lr_gamma"] == 0.2


def test_test_set_protocol_trains_once_for_all_noise_rates(tmp_path):
    write_fake_cifar100(tmp_path, train=200, test=40)
    errors = tmp_path / "mturk.json"
    errors.write_text(json.dumps([{"id": 3, "mturk": {"given": 0}}]))
    results = tmp_path / "records"
    out = subprocess.run(
        [sys.executable, "-m", "robustloss.run", "-m", "dataset=cifar100_cleaned_test",
         f"dataset.root={tmp_path}", "dataset.verify=false", f"dataset.label_errors_path={errors}",
         "model=resnet32", "train.epochs=1", "noise.rate=0.1,0.3", f"results_dir={results}",
         f"hydra.sweep.dir={tmp_path / 'sweep'}", "progress=false"],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    store = RecordStore(results)
    records = sorted((json.loads(p.read_text()) for p in results.glob("*.json")),
                     key=lambda r: r["settings"]["noise"]["rate"])
    assert len(records) == 2 and len(list((results / "predictions").glob("*.npz"))) == 1
    a, b = (store.load_arrays(r["id"]) for r in records)
    np.testing.assert_array_equal(a["probabilities"], b["probabilities"])  # one training run
    assert (a["corrupted"].sum(), b["corrupted"].sum()) == (4, 12)          # of 39 test labels
    assert records[0]["folds"] == records[1]["folds"]
