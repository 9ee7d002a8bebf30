import json
import os

import numpy as np
import pytest

from robustloss import records
from robustloss.experiments.experiment import ExperimentSettings
from robustloss.records import CorruptRecordError, RecordStore, atomic_write, find_records, record_id


def settings_dict(**changes):
    cfg = {
        "dataset": {"name": "digits", "root": None, "subset": None},
        "loss": {"name": "blurry", "gamma": 0.4, "detach_weight": True, "delay": 0},
        "model": {"name": "small_cnn"},
        "detector": {"name": "confident_learning", "filter_by": "both", "n_jobs": 1},
        "noise": {"rate": 0.2, "mode": "exact"},
        "train": {"epochs": 10, "lr": 3e-3},
        "folds": 5, "seed": 0, "device": "auto",
        "results_dir": "results/a", "force": False, "progress": True,
    }
    for dotted, value in changes.items():
        *path, leaf = dotted.split(".")
        node = cfg
        for part in path:
            node = node[part]
        node[leaf] = value
    return cfg


def sid(**changes):
    return ExperimentSettings.from_dict(settings_dict(**changes)).id


def test_id_is_stable_and_ignores_paths_devices_and_logging():
    base = sid()
    assert base == sid() and len(base) == 16
    assert base == sid(**{"results_dir": "elsewhere", "force": True, "progress": False,
                          "device": "cpu", "dataset.root": "/data"})


@pytest.mark.parametrize("change", [
    {"loss.gamma": 0.5}, {"loss.delay": 1}, {"loss.detach_weight": False}, {"seed": 1},
    {"noise.rate": 0.3}, {"noise.mode": "bernoulli"}, {"train.lr": 1e-4}, {"folds": 4},
    {"dataset.subset": 100}, {"detector.filter_by": "prune_by_noise_rate"},
])
def test_id_changes_with_result_affecting_values(change):
    assert sid(**change) != sid()


def test_write_is_atomic_and_readable(tmp_path):
    store = RecordStore(tmp_path)
    rec = {"id": record_id({"a": 1}), "metrics": {"f1": 0.5}}
    store.write(rec, {"x": np.arange(3)})
    loaded = store.load(rec["id"])
    assert {k: loaded[k] for k in rec} == rec and len(loaded["arrays_sha256"]) == 64
    np.testing.assert_array_equal(store.load_arrays(rec["id"])["x"], np.arange(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{rec['id']}.json", f"{rec['id']}.npz"]


def test_a_write_that_fails_midway_leaves_no_partial_file_and_the_old_record(tmp_path):
    """The failure happens inside the write, after bytes went out: the temporary file is
    removed, the record on disk is still the previous one, no arrays file is orphaned."""
    store = RecordStore(tmp_path)
    store.write({"id": "abc", "metrics": {"f1": 0.5}})
    before = (tmp_path / "abc.json").read_bytes()

    def half_then_fail(handle):
        handle.write(b'{"id": "abc", "metr')
        handle.flush()
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic_write(tmp_path / "abc.json", half_then_fail)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abc.json"]
    assert (tmp_path / "abc.json").read_bytes() == before

    class Unserialisable:
        def __str__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):  # a record that cannot be serialised: nothing written
        store.write({"id": "new", "metrics": {}, "bad": Unserialisable()},
                    {"x": np.zeros(3)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abc.json"]


def test_arrays_are_not_left_without_their_record(tmp_path, monkeypatch):
    """The .npz went out, then the .json write failed: the .npz is removed too."""
    store = RecordStore(tmp_path)
    real = records.atomic_write

    def fail_on_json(path, write):
        if path.suffix == ".json":
            raise OSError(28, "No space left on device")
        return real(path, write)

    monkeypatch.setattr(records, "atomic_write", fail_on_json)
    with pytest.raises(OSError):
        store.write({"id": "r", "metrics": {}}, {"x": np.zeros(3)})
    assert list(tmp_path.iterdir()) == []


def test_corrupt_record_is_reported_not_used(tmp_path, caplog):
    store = RecordStore(tmp_path)
    good = {"id": "good", "metrics": {}}
    store.write(good)
    (tmp_path / "bad.json").write_text('{"id": "bad", "metr')
    with pytest.raises(CorruptRecordError, match="cannot read record"):
        store.load("bad")
    assert find_records(tmp_path) == [good]
    assert "bad.json" in caplog.text
    assert store.load("missing") is None


def test_record_for_another_id_is_corrupt(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"id": "y", "metrics": {}}))
    with pytest.raises(CorruptRecordError, match="another id"):
        RecordStore(tmp_path).load("x")


def test_arrays_from_another_write_are_refused(tmp_path):
    store = RecordStore(tmp_path)
    store.write({"id": "r", "metrics": {}}, {"x": np.arange(3)})
    np.savez_compressed(store.npz_path("r"), x=np.arange(4))  # as a killed forced re-run leaves it
    with pytest.raises(CorruptRecordError, match="does not match its record"):
        store.load_arrays("r")


def test_no_temporary_files_left(tmp_path):
    store = RecordStore(tmp_path)
    for i in range(3):
        store.write({"id": f"r{i}", "metrics": {}}, {"a": np.zeros(2)})
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_int_and_float_spellings_are_one_experiment():
    assert sid(**{"loss.gamma": 1}) == sid(**{"loss.gamma": 1.0})
    assert sid(**{"noise.rate": 0}) == sid(**{"noise.rate": 0.0})
    assert sid(**{"loss.detach_weight": True}) != sid(**{"loss.detach_weight": 1.0})


def test_piecewise_zero_gets_the_paper_delay_when_none_is_given():
    cfg = settings_dict()
    cfg["loss"] = {"name": "piecewise_zero", "c": 0.01}
    assert ExperimentSettings.from_dict(cfg).loss.delay == 1
    cfg["loss"]["delay"] = 0
    assert ExperimentSettings.from_dict(cfg).loss.delay == 0


def test_unknown_noise_setting_is_named():
    cfg = settings_dict()
    cfg["noise"]["ratio"] = 0.2
    with pytest.raises(ValueError, match=r"unknown noise setting\(s\) \['ratio'\]"):
        ExperimentSettings.from_dict(cfg)
