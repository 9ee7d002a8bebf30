"""A record's id sees what changes the result: the content of user data files, every
default filled in (API, CLI and sweep agree); records are readable like any user file."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

import robustloss
from robustloss.data import load
from robustloss.experiments.experiment import ExperimentSettings, run_and_record

from .conftest import REPO

API_EXAMPLE = {  # the README's Python API example
    "dataset": {"name": "digits"}, "loss": {"name": "blurry", "gamma": 0.4},
    "noise": {"rate": 0.2}, "seed": 0}
CLI_EXAMPLE = ("dataset=digits", "loss=blurry", "loss.gamma=0.4", "noise.rate=0.2", "seed=0")


def cli_config(*overrides):
    """The resolved config the Hydra app would build (compose, as run.py sees it)."""
    code = ("import json, sys; from hydra import compose, initialize_config_dir; "
            "from omegaconf import OmegaConf\n"
            f"with initialize_config_dir(config_dir={str(REPO / 'conf')!r}, version_base='1.3'):\n"
            "    print(json.dumps(OmegaConf.to_container(compose(config_name='config', "
            "overrides=sys.argv[1:]), resolve=True)))")
    out = subprocess.run([sys.executable, "-c", code, *overrides], capture_output=True, text=True,
                         check=True, timeout=120)
    return json.loads(out.stdout)


def test_api_and_cli_name_the_readme_example_with_one_id():
    api = ExperimentSettings.from_dict(API_EXAMPLE)
    cli = ExperimentSettings.from_config(cli_config(*CLI_EXAMPLE))
    composed = robustloss.compose(CLI_EXAMPLE)
    assert api.identity() == cli.identity() == composed.identity()
    assert api.id == cli.id == composed.id
    # the dataset config's training values apply to the API too (digits: lr, inputs, stack)
    assert (api.train.lr, api.train.inputs, api.train.stack) == (3e-3, "unit", "stacked")
    # a default the API leaves out is filled in from the component's own definition
    assert api.loss.params["detach_weight"] is True and api.model.params["dropout1"] == 0.25


def write_npz(path, labels):
    images = load("digits").images[:len(labels), 0].numpy()
    np.savez(path, images=images, labels=labels)


def test_a_changed_data_file_is_run_again_and_a_moved_one_is_not(tmp_path):
    labels = load("digits").labels[:300].copy()
    data = tmp_path / "mine.npz"
    write_npz(data, labels)
    settings = lambda path: ExperimentSettings.from_dict({  # noqa: E731
        "dataset": {"name": "arrays", "path": str(path)}, "loss": {"name": "ce"},
        "model": {"name": "small_cnn"}, "detector": {"name": "confident_learning"},
        "noise": {"rate": 0.0}, "train": {"lr": 3e-3, "epochs": 2, "inputs": "unit"},
        "folds": 3})
    first, ran = run_and_record(settings(data), str(tmp_path / "r"), progress=False)
    assert ran
    labels[:10] = (labels[:10] + 1) % 10  # the user corrects (here: changes) some labels
    write_npz(data, labels)
    second, ran = run_and_record(settings(data), str(tmp_path / "r"), progress=False)
    assert ran and second["id"] != first["id"]
    assert second["data"]["fingerprint"] != first["data"]["fingerprint"]
    moved = tmp_path / "elsewhere.npz"
    data.rename(moved)  # same content, another path: the same experiment
    third, ran = run_and_record(settings(moved), str(tmp_path / "r"), progress=False)
    assert not ran and third["id"] == second["id"]


def test_records_are_readable_by_group_and_others_under_umask_022(tmp_path):
    old = os.umask(0o022)
    try:
        record, _ = run_and_record(ExperimentSettings.from_dict({
            **API_EXAMPLE, "dataset": {"name": "digits", "subset": 200},
            "train": {"lr": 3e-3, "epochs": 1, "inputs": "unit"}, "folds": 2}),
            str(tmp_path), progress=False)
    finally:
        os.umask(old)
    for path in (tmp_path / f"{record['id']}.json", tmp_path / f"{record['id']}.npz"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == 0o644, oct(mode)


DATASET_CONFIGS = sorted(p.stem for p in (REPO / "conf" / "dataset").glob("*.yaml"))


@pytest.mark.parametrize("dataset", DATASET_CONFIGS)
def test_api_and_cli_agree_for_every_dataset_config(dataset, tmp_path):
    extra = {}
    if dataset == "arrays":  # needs a file; its content enters the id
        write_npz(tmp_path / "mine.npz", load("digits").labels[:100])
        extra = {"path": str(tmp_path / "mine.npz")}
    overrides = [f"dataset={dataset}", "loss=piecewise_zero", "loss.c=0.05", "seed=2",
                 *(f"dataset.{k}={v}" for k, v in extra.items())]
    api = ExperimentSettings.from_dict({"dataset": {"name": dataset, **extra},
                                        "loss": {"name": "piecewise_zero", "c": 0.05}, "seed": 2})
    cli = ExperimentSettings.from_config(cli_config(*overrides))
    assert api.identity() == cli.identity()
    assert api.id == cli.id


def _leaves(value, prefix=()):
    """{path tuple: value} of every leaf of nested dicts."""
    if isinstance(value, dict) and value:
        return {k: v for key, item in value.items() for k, v in _leaves(item, (*prefix, key)).items()}
    return {prefix: value}


@pytest.mark.parametrize("overrides", [
    ["dataset=digits", "loss=blurry", "loss.gamma=0.4"],
    ["dataset=digits", "noise=asymmetric", "noise.rate=0.3", "detector=aum"],
    ["dataset=mnist", "noise=instance", "loss=piecewise_zero", "cv.split=kfold"],
], ids=["symmetric", "asymmetric-aum", "instance-mnist"])
def test_every_setting_is_in_the_identity_unless_declared_not_to_change_results(overrides):
    """Derived from the settings, not a hand list: every leaf of the settings is in the
    identity with its value, except the ones the code declares result-neutral (device,
    dynamics, dataset.root, NOT_IDENTITY's parameters, noise parameters the kind does not
    read, NEW_PARAMS_AT_DEFAULT's parameters at that default); and changing any identity leaf
    changes the id."""
    from robustloss.components.noise import KIND_PARAMS
    from robustloss.experiments.settings import NEW_PARAMS_AT_DEFAULT, NOT_IDENTITY
    from robustloss.records import record_id

    settings = robustloss.compose(overrides)
    every = _leaves(dataclasses.asdict(settings))
    identity = _leaves(settings.identity())
    declared = {("device",), ("dynamics",), ("dataset", "root")}
    declared |= {(part, "params", name) for part, names in NOT_IDENTITY.items() for name in names}
    declared |= {(part, "params", name) for part, defaults in NEW_PARAMS_AT_DEFAULT.items()
                 for name, default in defaults.items()
                 if getattr(settings, part).params.get(name) == default}
    kind = settings.noise.kind
    declared |= {("noise", name) for name in ("kind", "flips", "spread")
                 if kind == "symmetric" or (name != "kind" and name not in KIND_PARAMS[kind])}
    for path, value in every.items():
        if path in declared:
            assert path not in identity, path
        else:
            assert identity.get(path, object()) == value, path
    emptied = {path for path in set(identity) - set(every)  # every parameter declared neutral
               if identity[path] == {} and any(d[:len(path)] == path for d in declared)}
    assert set(identity) - set(every) - emptied == {("pipeline_version",)}
    base = record_id(settings.identity())
    for path in identity:  # any identity value changed -> another id
        changed = settings.identity()
        target = changed
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = ["changed", target[path[-1]]]
        assert record_id(changed) != base, path
