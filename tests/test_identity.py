"""A record's id sees what changes the result: the content of user data files, every
default filled in (API, CLI and sweep agree); records are readable like any user file."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import numpy as np

from robustloss.data import load
from robustloss.experiments.experiment import ExperimentSettings, run_and_record

from .conftest import REPO

API_EXAMPLE = {  # the README's Python API example
    "dataset": {"name": "digits"}, "loss": {"name": "blurry", "gamma": 0.4},
    "model": {"name": "small_cnn"}, "detector": {"name": "confident_learning"},
    "noise": {"rate": 0.2}, "train": {"lr": 3e-3, "inputs": "unit", "stack": "stacked"},
    "seed": 0}


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
    cli = ExperimentSettings.from_dict(cli_config("loss=blurry", "loss.gamma=0.4",
                                                  "noise.rate=0.2", "seed=0"))
    assert api.identity() == cli.identity()
    assert api.id == cli.id
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
