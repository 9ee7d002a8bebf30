"""Torchvision datasets, CIFAR-N and the cleaned CIFAR-100 test set.

MNIST / Fashion-MNIST, the CIFAR-N label files and the cleanlab label-error json are read
from ../shared/data (or $ROBUSTLOSS_SHARED_DATA) when present, else those tests skip. CIFAR
images are not shared, so the CIFAR code paths run on small files written here in the real
CIFAR pickle format; their MD5 sums differ from torchvision's, so they are read with the
loaders' ``verify=False`` (which only checks that the files exist).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from robustloss import data as datasets
from robustloss.data import DATASETS, cifar_n, cleaned_test, vision

from .fake_files import fake_rows, write_fake_cifar10, write_fake_cifar100, write_fake_human_labels

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ROBUSTLOSS_SHARED_DATA") or REPO.parent / "shared" / "data")
MTURK_JSON = SHARED_DATA / "label-errors" / "mturk" / "cifar100_mturk.json"
CIFAR_N = SHARED_DATA / "CIFAR-N"


def needs(path: Path):
    return pytest.mark.skipif(not path.exists(), reason=f"{path} not present (shared data)")


# ---------------------------------------------------------------------------- data folder

def test_data_root_prefers_argument_then_env_then_xdg_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("ROBUSTLOSS_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert vision.data_root(tmp_path / "arg") == tmp_path / "arg"
    assert vision.data_root(None) == tmp_path / "env"
    monkeypatch.delenv("ROBUSTLOSS_DATA")
    assert vision.data_root(None) == tmp_path / "xdg" / "robustloss" / "data"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert vision.data_root(None) == Path.home() / ".cache" / "robustloss" / "data"


# ------------------------------------------------------------- MNIST family (real files)

@needs(SHARED_DATA / "MNIST" / "raw")
def test_mnist_real_sizes_and_classes():
    d = DATASETS.get("mnist")(root=SHARED_DATA)
    assert d.images.shape == (60000, 1, 28, 28) and d.images.dtype == torch.uint8
    assert d.test_images.shape == (10000, 1, 28, 28) and d.test_images.dtype == torch.uint8
    assert d.labels.dtype == np.int64 and d.test_labels.dtype == np.int64
    assert d.num_classes == 10 and d.given_labels is None
    assert d.labels[:5].tolist() == [5, 0, 4, 1, 9]  # the well-known first MNIST labels
    assert np.bincount(d.labels).tolist()[:2] == [5923, 6742]
    assert len(np.unique(d.test_labels)) == 10
    assert int(d.images.max()) == 255


@needs(SHARED_DATA / "MNIST" / "raw")
def test_mnist_download_rebuilds_from_local_archives_without_network(tmp_path):
    """download=True with the verified .gz files in place only decompresses them."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for gz in (SHARED_DATA / "MNIST" / "raw").glob("*.gz"):
        (raw / gz.name).write_bytes(gz.read_bytes())
    with pytest.raises(FileNotFoundError):
        DATASETS.get("mnist")(root=tmp_path)
    d = DATASETS.get("mnist")(root=tmp_path, download=True)
    assert d.images.shape == (60000, 1, 28, 28) and (raw / "train-images-idx3-ubyte").is_file()


@needs(SHARED_DATA / "FashionMNIST" / "raw")
def test_fashion_mnist_real_sizes_and_classes():
    d = DATASETS.get("fashion_mnist")(root=SHARED_DATA)
    assert d.images.shape == (60000, 1, 28, 28) and d.test_images.shape == (10000, 1, 28, 28)
    assert np.bincount(d.labels).tolist() == [6000] * 10
    assert np.bincount(d.test_labels).tolist() == [1000] * 10


# ---------------------------------------------------------------- missing files, clearly

@pytest.mark.parametrize("name,expected", [
    ("mnist", "MNIST/raw/train-images-idx3-ubyte"),
    ("fashion_mnist", "FashionMNIST/raw/t10k-labels-idx1-ubyte"),
    ("cifar10", "cifar-10-batches-py/data_batch_1"),
    ("cifar100", "cifar-100-python/train"),
    ("cifar100_cleaned_test", "cifar-100-python/meta"),
])
def test_missing_files_name_the_folder_the_files_and_the_fix(tmp_path, name, expected):
    with pytest.raises(FileNotFoundError) as err:
        DATASETS.get(name)(root=tmp_path)
    message = str(err.value)
    assert str(tmp_path / expected) in message
    for fix in ("ROBUSTLOSS_DATA", "dataset.root", "dataset.download=true"):
        assert fix in message


def test_missing_files_found_through_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ROBUSTLOSS_DATA", str(tmp_path / "here"))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "here" / "MNIST")):
        DATASETS.get("mnist")()


@pytest.mark.parametrize("name", ["cifar10n_aggregate", "cifar10n_worst", "cifar100n"])
def test_cifar_n_missing_label_file_fails_first(tmp_path, name):
    with pytest.raises(FileNotFoundError, match=r"CIFAR-N.*CIFAR-10{1,2}_human\.pt"):
        DATASETS.get(name)(root=tmp_path)


# ------------------------------------------------ CIFAR on small files in the real format

def test_cifar10_reads_all_batches_in_order_as_chw(tmp_path):
    labels = write_fake_cifar10(tmp_path)
    d = DATASETS.get("cifar10")(root=tmp_path, verify=False)
    assert d.images.shape == (20, 3, 32, 32) and d.images.dtype == torch.uint8
    assert d.test_images.shape == (6, 3, 32, 32)
    assert d.num_classes == 10 and d.labels.dtype == np.int64
    np.testing.assert_array_equal(d.labels, labels)
    # row layout is R plane, G plane, B plane: (3072,) -> (3, 32, 32) must be exact
    np.testing.assert_array_equal(d.images[4].numpy(), fake_rows(4, 2)[0].reshape(3, 32, 32))
    np.testing.assert_array_equal(d.test_images.numpy().reshape(6, -1), fake_rows(6, 99))
    assert d.images.is_contiguous() and d.test_images.is_contiguous()


def test_cifar100_reads_fine_labels(tmp_path):
    fine = write_fake_cifar100(tmp_path)
    d = datasets.load("cifar100", tmp_path, verify=False)  # through the registry
    assert d.images.shape == (30, 3, 32, 32) and d.test_images.shape == (20, 3, 32, 32)
    assert d.num_classes == 100
    np.testing.assert_array_equal(d.labels, fine)
    np.testing.assert_array_equal(d.images.numpy().reshape(30, -1), fake_rows(30, 1))


def test_cifar_files_failing_the_md5_check_are_refused_clearly(tmp_path):
    write_fake_cifar10(tmp_path)
    with pytest.raises(RuntimeError, match="verify=false"):
        DATASETS.get("cifar10")(root=tmp_path)


def test_cifar_partly_missing_lists_only_the_missing_files(tmp_path):
    write_fake_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="1 of 7 file") as err:
        DATASETS.get("cifar10")(root=tmp_path, verify=False)
    assert "data_batch_3" in str(err.value) and "data_batch_2" not in str(err.value)


# ------------------------------------------------------------------------------- CIFAR-N

def test_cifar10n_attaches_the_human_labels(tmp_path):
    clean = write_fake_cifar10(tmp_path)
    aggre, worse = (clean + 1) % 10, clean.copy()
    aggre[::2] = clean[::2]
    worse[:3] = (clean[:3] + 5) % 10
    write_fake_human_labels(tmp_path / "CIFAR-N" / "CIFAR-10_human.pt",
                            {"clean_label": clean, "aggre_label": aggre, "worse_label": worse})
    d = DATASETS.get("cifar10n_aggregate")(root=tmp_path, verify=False)
    assert d.name == "cifar10n_aggregate" and d.images.shape == (20, 3, 32, 32)
    np.testing.assert_array_equal(d.labels, clean)
    np.testing.assert_array_equal(d.given_labels, aggre)
    assert d.given_labels.dtype == np.int64 and d.test_images is not None
    w = DATASETS.get("cifar10n_worst")(root=tmp_path, verify=False)
    np.testing.assert_array_equal(w.given_labels, worse)
    assert w.subset(5).given_labels.shape == (5,)


def test_cifar100n_with_an_explicit_labels_path(tmp_path):
    clean = write_fake_cifar100(tmp_path)
    noisy = (clean + 1) % 100
    path = write_fake_human_labels(tmp_path / "elsewhere.pt",
                                   {"clean_label": clean, "noisy_label": noisy})
    d = DATASETS.get("cifar100n")(root=tmp_path, labels_path=str(path), verify=False)
    np.testing.assert_array_equal(d.given_labels, noisy)
    assert d.num_classes == 100


def test_cifar_n_refuses_labels_of_other_images(tmp_path):
    clean = write_fake_cifar10(tmp_path)
    shifted = clean.copy()
    shifted[[1, 5, 9]] = (shifted[[1, 5, 9]] + 1) % 10
    write_fake_human_labels(tmp_path / "CIFAR-N" / "CIFAR-10_human.pt",
                            {"clean_label": shifted, "aggre_label": clean})
    with pytest.raises(ValueError, match="differs .* at 3 of 20 positions"):
        DATASETS.get("cifar10n_aggregate")(root=tmp_path, verify=False)


def test_cifar_n_refuses_a_file_of_the_wrong_length(tmp_path):
    clean = write_fake_cifar10(tmp_path)
    write_fake_human_labels(tmp_path / "CIFAR-N" / "CIFAR-10_human.pt",
                            {"clean_label": clean[:-1], "aggre_label": clean[:-1]})
    with pytest.raises(ValueError, match="19 entries but .* 20 images"):
        DATASETS.get("cifar10n_aggregate")(root=tmp_path, verify=False)


def test_cifar_n_file_without_the_requested_array(tmp_path):
    write_fake_human_labels(tmp_path / "CIFAR-N" / "CIFAR-100_human.pt", {"clean_label": [1]})
    with pytest.raises(ValueError, match="no 'noisy_label' array"):
        DATASETS.get("cifar100n")(root=tmp_path)


@needs(CIFAR_N / "CIFAR-10_human.pt")
def test_real_cifar10n_label_file():
    h = cifar_n.read_human_labels(CIFAR_N / "CIFAR-10_human.pt")
    assert {"clean_label", "aggre_label", "worse_label"} <= set(h)
    assert all(v.shape == (50000,) and v.dtype == np.int64 for v in h.values())
    assert np.bincount(h["clean_label"]).tolist() == [5000] * 10
    assert (h["aggre_label"] != h["clean_label"]).mean() == pytest.approx(0.0903, abs=1e-3)
    assert (h["worse_label"] != h["clean_label"]).mean() == pytest.approx(0.4021, abs=1e-3)


@needs(CIFAR_N / "CIFAR-100_human.pt")
def test_real_cifar100n_label_file():
    h = cifar_n.read_human_labels(CIFAR_N / "CIFAR-100_human.pt")
    assert h["clean_label"].shape == h["noisy_label"].shape == (50000,)
    assert np.bincount(h["clean_label"]).tolist() == [500] * 100
    assert (h["noisy_label"] != h["clean_label"]).mean() == pytest.approx(0.402, abs=1e-3)


# --------------------------------------------------------- cleaned CIFAR-100 test set

def test_shipped_label_error_list():
    errors = cleaned_test.shipped_label_errors()
    assert len(errors) == 585 and errors.dtype == np.int64
    assert np.all(np.diff(errors) > 0) and errors.min() >= 0 and errors.max() < 10000
    text = (Path(cleaned_test.__file__).with_name(cleaned_test.SHIPPED_LIST)).read_text()
    for fact in ("cleanlab/label-errors @6d5d6b31", "Apache-2.0", "NeurIPS 2021",
                 '"given" < 3', "Count: 585"):
        assert fact in text
    assert len(cleaned_test.cleaned_test_indices(errors)) == 9415


@needs(MTURK_JSON)
def test_real_mturk_json_gives_exactly_the_shipped_585():
    errors = cleaned_test.label_errors_from_mturk(MTURK_JSON)
    assert len(errors) == 585
    np.testing.assert_array_equal(errors, cleaned_test.shipped_label_errors())
    shipped = Path(cleaned_test.__file__).with_name(cleaned_test.SHIPPED_LIST).read_text()
    assert cleaned_test.format_label_error_list(errors, MTURK_JSON) == shipped


def test_mturk_rule_fewer_than_three_confirming_votes(tmp_path):
    votes = {11: 0, 12: 2, 13: 3, 14: 5, 10: 1}
    entries = [{"id": i, "given_original_label": 0, "our_guessed_label": 1,
                "mturk": {"given": g, "guessed": 5 - g, "neither": 0, "both": 0}}
               for i, g in votes.items()]
    path = tmp_path / "mturk.json"
    path.write_text(json.dumps(entries))
    assert cleaned_test.label_errors_from_mturk(path).tolist() == [10, 11, 12]
    written = cleaned_test.write_label_error_list(path, tmp_path / "list.txt")
    assert cleaned_test.parse_label_error_list(written.read_text()).tolist() == [10, 11, 12]
    with pytest.raises(FileNotFoundError, match="cleanlab/label-errors"):
        cleaned_test.label_errors_from_mturk(tmp_path / "missing.json")


def test_cleaned_test_dataset_removes_the_shipped_585(tmp_path):
    fine = write_fake_cifar100(tmp_path, train=10, test=10000)
    d = DATASETS.get("cifar100_cleaned_test")(root=tmp_path, verify=False)
    keep = cleaned_test.cleaned_test_indices(cleaned_test.shipped_label_errors())
    assert d.images.shape == (10, 3, 32, 32)
    np.testing.assert_array_equal(d.labels, fine)
    assert d.test_images.shape == (9415, 3, 32, 32) and d.test_labels.shape == (9415,)
    np.testing.assert_array_equal(d.test_labels, (7 * keep) % 100)
    np.testing.assert_array_equal(d.test_images.numpy().reshape(9415, -1),
                                  fake_rows(10000, 2)[keep])


def test_cleaned_test_dataset_from_a_json(tmp_path):
    write_fake_cifar100(tmp_path, train=10, test=20)
    path = tmp_path / "mturk.json"
    path.write_text(json.dumps([{"id": 3, "mturk": {"given": 1}}, {"id": 7, "mturk": {"given": 4}},
                                {"id": 19, "mturk": {"given": 2}}]))
    d = DATASETS.get("cifar100_cleaned_test")(root=tmp_path, verify=False,
                                             label_errors_path=str(path))
    keep = [i for i in range(20) if i not in (3, 19)]
    np.testing.assert_array_equal(d.test_labels, (7 * np.array(keep)) % 100)
    with pytest.raises(ValueError, match=r"must lie in \[0, 20\)"):
        DATASETS.get("cifar100_cleaned_test")(root=tmp_path, verify=False)
