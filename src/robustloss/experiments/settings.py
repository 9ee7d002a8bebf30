"""The settings of one experiment as typed, frozen dataclasses, built from a plain config dict
(Hydra's or the Python API's), and the identity that names its record.

Every component's parameters are completed with the defaults of its registered factory, so
the API, the CLI and a sweep name one experiment with one id; user-supplied data files enter
the identity by content, not by path. These settings know no Hydra: composing the config
files is ``robustloss.experiments.config``'s job (it installs how ``from_dict`` completes a
partial dict when the package is imported).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from robustloss import data as datasets
from robustloss.components import losses, models
from robustloss.components.noise import KIND_PARAMS, check_noise
from robustloss.data.fingerprint import file_sha256
from robustloss.detection.detect import DETECTORS
from robustloss.errors import check_integer
from robustloss.records import record_id
from robustloss.training.crossval import CrossValSettings
from robustloss.training.train_settings import TrainSettings

# Bumped whenever a change to the code changes results, so old records are not reused.
# 2: ANL-FL's NNFL term takes (1-p)^gamma as constant weights; predictions in float32.
# 3: inputs are raw 0-255 pixel values by default (train.inputs), as the authors trained;
#    train.precision replaces train.amp; a last batch of one sample joins the one before.
# 4: train.precision=auto is bfloat16 + channels-last on CPUs with native bfloat16.
# 5: the small CNN's fast step: max-pool before the ReLU, (H, W, C) flattening into fc1,
#    dropout masks drawn from random bytes on CPUs (same maths, another random stream).
# (noise kinds other than symmetric enter the identity as new keys: no bump needed.)
PIPELINE_VERSION = 5

# Dataset parameters naming user-supplied files: they enter the identity by their content.
DATA_FILE_PARAMS = ("path", "labels_path", "label_errors_path")
# Parameters that change where or how things are read, not the result (the data files'
# paths are replaced by their content's hash).
NOT_IDENTITY = {
    "dataset": ("download", "verify", *DATA_FILE_PARAMS),
    "model": ("allow_download",),
    "detector": ("n_jobs",),
}
# Parameters added after records existed, with the value that builds what was built before
# they existed: at that value they stay out of the identity, so earlier records keep their ids
# (as symmetric noise does without a kind).
NEW_PARAMS_AT_DEFAULT = {"model": {"widen": 1}}
# Arguments a registry fills itself (not settings).
_FIXED = {"root", "input_shape", "num_classes", "labels", "pred_probs", "self"}


def _defaults(factory) -> dict[str, Any]:
    """The keyword defaults of a registered factory (function or class)."""
    defaults = {}
    for name, param in inspect.signature(factory).parameters.items():
        if name in _FIXED or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        if param.default is not param.empty:
            defaults[name] = param.default
    return defaults


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


def _as_float(value):
    """Numbers as floats (gamma=1 and gamma=1.0 are one experiment); others unchanged."""
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


@dataclass(frozen=True)
class LossSettings(Component):
    delay: int = 0  # epochs of CE warm-up before the loss takes over

    @classmethod
    def from_flat(cls, values: dict):
        """A missing or null ``delay`` is the loss's own (``losses.default_delay``: the
        paper's, one epoch for piecewise_zero)."""
        values = {k: (v if k in ("name", "delay") else _as_float(v)) for k, v in values.items()}
        if values.get("delay") is None:
            values["delay"] = losses.default_delay(values.get("name"))
        return super().from_flat(values)

    def __post_init__(self):
        check_integer("loss.delay", self.delay, 0)


@dataclass(frozen=True)
class NoiseSettings:
    """How the training labels are corrupted (conf/noise/*.yaml; robustloss.components.noise)."""

    rate: float = 0.2
    mode: str = "exact"        # exact count | bernoulli (per label)
    kind: str = "symmetric"    # symmetric | asymmetric | pairflip | instance
    flips: list | None = None  # asymmetric: an own map [[source, target], ...]
    spread: float = 0.1        # instance: std of the per-sample flip rate (Xia et al.)

    def __post_init__(self):
        if isinstance(self.rate, bool) or not isinstance(self.rate, int | float):
            raise ValueError(f"noise.rate must be a number in [0, 1), got {self.rate!r}")
        object.__setattr__(self, "rate", float(self.rate))
        if isinstance(self.spread, int) and not isinstance(self.spread, bool):
            object.__setattr__(self, "spread", float(self.spread))
        check_noise(self.kind, self.rate, self.mode, flips=self.flips, spread=self.spread)

    def identity(self) -> dict:
        """rate and mode, plus the kind and the parameters it reads when it is not symmetric
        (so records of symmetric noise keep the ids they had before kinds existed)."""
        values = {"rate": self.rate, "mode": self.mode}
        if self.kind != "symmetric":
            values["kind"] = self.kind
            values.update({name: getattr(self, name) for name in KIND_PARAMS[self.kind]})
        return values


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
    def from_dict(cls, values: dict) -> ExperimentSettings:
        """The Python API: ``values`` (any part of a config, e.g. ``{"dataset": {"name":
        "digits"}, "loss": {"name": "blurry", "gamma": 0.4}}``) over the config the command
        line composes for the same dataset, model, loss, detector and noise kind, so the API
        and ``robustloss run`` name one experiment with one id (every dataset default, such as
        its learning rate and input scaling, applies). The configs are composed by
        ``robustloss.experiments.config.complete`` (Hydra's compose API): do not call it
        inside a running Hydra app (use ``from_config``)."""
        if _complete_from_configs is None:  # robustloss.experiments' own import installs it
            raise RuntimeError("ExperimentSettings.from_dict needs the configs: import "
                               "robustloss.experiments.config first (or call from_config)")
        return cls.from_config(_complete_from_configs(values))

    @classmethod
    def from_config(cls, cfg: dict) -> ExperimentSettings:
        """Build from a complete, resolved config dict (as composed by Hydra): nothing is
        filled in beyond the components' own defaults; keys outside the settings are ignored."""
        for block, kind in (("train", TrainSettings), ("noise", NoiseSettings),
                            ("cv", CrossValSettings)):
            known = {f.name for f in fields(kind)}
            unknown = sorted(set(cfg.get(block, {})) - known)
            if unknown:
                raise ValueError(f"unknown {block} setting(s) {unknown}; valid: {sorted(known)}")
        for block in ("dataset", "loss", "model", "detector"):
            if not isinstance(cfg.get(block), dict):
                raise ValueError(f"settings need a '{block}' block with a 'name', got {cfg.get(block)!r}")
        return cls(
            dataset=_complete(DatasetSettings.from_flat(cfg["dataset"]), datasets.DATASETS),
            loss=_complete(LossSettings.from_flat(cfg["loss"]), losses.LOSSES),
            model=_complete(Component.from_flat(cfg["model"]), models.MODELS),
            detector=_complete(Component.from_flat(cfg["detector"]), DETECTORS),
            noise=NoiseSettings(**cfg.get("noise", {})),
            train=TrainSettings(**cfg.get("train", {})),
            folds=check_integer("folds", cfg.get("folds", 5), 2),
            cv=CrossValSettings(**cfg.get("cv", {})),
            protocol=str(cfg.get("protocol", "crossval")),
            seed=check_integer("seed", cfg.get("seed", 0), 0),
            device=str(cfg.get("device", "auto")),
            dynamics=str(cfg.get("dynamics", "none")),
        )

    def identity(self) -> dict:
        """The values that change the result (not paths, devices, downloads or logging);
        user-supplied data files by the SHA-256 of their content."""
        values = asdict(self)
        values["dataset"].pop("root")
        for name in DATA_FILE_PARAMS:
            path = self.dataset.params.get(name)
            if path:
                values["dataset"][f"{name}_sha256"] = file_sha256(path)
        values["noise"] = self.noise.identity()
        values.pop("device")
        values.pop("dynamics")
        for part, names in NOT_IDENTITY.items():
            for name in names:
                values[part]["params"].pop(name, None)
        for part, defaults in NEW_PARAMS_AT_DEFAULT.items():
            params = values[part]["params"]
            for name, default in defaults.items():
                if name in params and params[name] == default:
                    del params[name]
        values["pipeline_version"] = PIPELINE_VERSION
        return values

    @property
    def id(self) -> str:
        return record_id(self.identity())


# How from_dict completes a partial settings dict with the defaults of the config files the
# command line composes; robustloss.experiments.config installs it (use_config_defaults).
_complete_from_configs: Callable[[dict], dict] | None = None


def use_config_defaults(complete: Callable[[dict], dict]) -> None:
    """Install ``complete`` (a partial settings dict -> the complete config dict the command
    line would run) as what ``ExperimentSettings.from_dict`` completes values with."""
    global _complete_from_configs
    _complete_from_configs = complete


def _complete(component, registry):
    """``component`` with every parameter its registered factory defaults filled in (an
    unknown name is left for validation to report, with the valid names)."""
    if component.name not in registry:
        return component
    defaults = _defaults(registry.get(component.name))
    params = {**defaults, **component.params}
    return type(component)(**{**{f.name: getattr(component, f.name) for f in fields(component)},
                              "params": params})
