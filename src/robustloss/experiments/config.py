"""Composing the Hydra configs the same way for the command line, the Python API and sweeps.

The configs ship inside the package (``robustloss.conf``: the repository's top-level conf/,
mapped into the wheel), so an installed package finds them without the repository. Your own
config folders join the search path with ``hydra.searchpath=[file:///abs/folder]`` (or
``--config-dir`` on ``robustloss run``).

    robustloss.compose(["dataset=digits", "loss=blurry", "loss.gamma=0.4"])  # ExperimentSettings

Importing this module (the package ``robustloss.experiments`` does) makes it what
``ExperimentSettings.from_dict`` completes a partial dict with; the settings themselves know
no Hydra.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path

from hydra import compose as hydra_compose
from hydra import initialize_config_dir, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from robustloss.errors import UserError, as_user_errors
from robustloss.experiments.settings import ExperimentSettings, use_config_defaults

CONFIG_MODULE = "robustloss.conf"
# A folder that replaces the packaged configs (a checkout's conf/ while developing them).
CONFIG_DIR_VARIABLE = "ROBUSTLOSS_CONFIG_DIR"


def config_path() -> str:
    """What ``@hydra.main`` searches: the packaged configs, or $ROBUSTLOSS_CONFIG_DIR."""
    folder = os.environ.get(CONFIG_DIR_VARIABLE)
    return str(Path(folder).resolve()) if folder else f"pkg://{CONFIG_MODULE}"


@contextlib.contextmanager
def initialized() -> Iterator[None]:
    """Hydra's compose API initialised on the configs (and cleared afterwards)."""
    GlobalHydra.instance().clear()
    path = config_path()
    context = (initialize_config_module(CONFIG_MODULE, version_base="1.3")
               if path.startswith("pkg://") else initialize_config_dir(path, version_base="1.3"))
    try:
        with context:
            yield
    finally:
        GlobalHydra.instance().clear()


def compose_config(overrides: Iterable[str] = (), return_hydra_config: bool = False) -> DictConfig:
    """The config ``robustloss run <overrides>`` would run (unresolved DictConfig)."""
    with initialized():
        return hydra_compose(config_name="config", overrides=list(overrides),
                             return_hydra_config=return_hydra_config)


def compose(overrides: Iterable[str] = ()) -> ExperimentSettings:
    """The settings of ``robustloss run <overrides>``: the same configs, the same id.
    A bad override or value is a UserError naming it."""
    with as_user_errors():
        try:
            cfg = compose_config(overrides)
        except Exception as err:  # Hydra's own errors: unknown group, bad override syntax
            if isinstance(err, UserError | ValueError):
                raise
            raise UserError(str(err).splitlines()[0]) from err
        return ExperimentSettings.from_config(OmegaConf.to_container(cfg, resolve=True))


def _group_overrides(values: dict) -> list[str]:
    """Config-group choices named in a settings dict: dataset, model, loss, detector, noise kind
    (only those with a config file; others are left to the dict)."""
    overrides = []
    for group in ("dataset", "model", "loss", "detector"):
        name = (values.get(group) or {}).get("name")
        if name is not None and config_file(group, name) is not None:
            overrides.append(f"{group}={name}")
    kind = (values.get("noise") or {}).get("kind")
    if kind is not None and config_file("noise", kind) is not None:
        overrides.append(f"noise={kind}")
    return overrides


def complete(values: dict) -> dict:
    """``values`` (a partial settings dict, as the Python API takes) over the config the CLI
    composes for the same dataset, model, loss, detector and noise kind: every default a
    config file sets (a dataset's learning rate, input scaling, model, ...) applies."""
    with as_user_errors():
        base = OmegaConf.to_container(compose_config(_group_overrides(values)), resolve=True)
    merged = OmegaConf.merge(OmegaConf.create(base), OmegaConf.create(values))
    return OmegaConf.to_container(merged, resolve=True)


def config_file(group: str, name: str) -> Path | None:
    """The packaged (or $ROBUSTLOSS_CONFIG_DIR) file of a config group option, if any."""
    folder = os.environ.get(CONFIG_DIR_VARIABLE)
    root = Path(folder) if folder else resources.files(CONFIG_MODULE)
    path = root / group / f"{name}.yaml"
    return path if path.is_file() else None


def sweep_block(name: str) -> DictConfig:
    """The ``sweep`` block of conf/experiment/<name>.yaml (the paper-table grids)."""
    path = config_file("experiment", name)
    if path is None:
        raise UserError(f"no experiment config {name!r}")
    return OmegaConf.create(path.read_text()).sweep


use_config_defaults(complete)
