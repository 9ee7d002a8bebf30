import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from robustloss.components import losses
from robustloss.components.models import MODELS
from robustloss.data import DATASETS
from robustloss.detection.detect import DETECTORS
from robustloss.experiments.experiment import ExperimentSettings, validate

from .conftest import CONF, REPO


def group_options(group):
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_every_registered_component_has_a_config_and_vice_versa():
    assert group_options("loss") == losses.LOSSES.names()
    assert group_options("model") == MODELS.names()
    assert group_options("detector") == DETECTORS.names()
    assert group_options("dataset") == DATASETS.names()


@pytest.mark.parametrize("loss", group_options("loss"))
def test_every_loss_composes_and_validates(compose_config, loss):
    cfg = compose_config(f"loss={loss}")
    settings = ExperimentSettings.from_dict(OmegaConf.to_container(cfg, resolve=True))
    validate(settings)
    assert settings.loss.name == loss
    losses.build(settings.loss.name, 10, **settings.loss.params)


@pytest.mark.parametrize("group,name", [(g, n) for g in ("dataset", "model", "detector")
                                        for n in group_options(g)])
def test_every_dataset_model_detector_composes(compose_config, group, name):
    cfg = compose_config(f"{group}={name}")
    settings = ExperimentSettings.from_dict(OmegaConf.to_container(cfg, resolve=True))
    validate(settings)
    assert getattr(settings, group).name == name


def test_paper_delays_and_anl_values(compose_config):
    delay = lambda loss: ExperimentSettings.from_config(  # noqa: E731  (null: the loss's own)
        OmegaConf.to_container(compose_config(f"loss={loss}"), resolve=True)).loss.delay
    assert (delay("piecewise_zero"), delay("blurry")) == (1, 0)
    assert compose_config("loss=piecewise_zero", "loss.delay=3").loss.delay == 3
    anl = compose_config("loss=anl_ce").loss
    assert (anl.alpha, anl.beta, anl.delta) == (1.0, 1.0, 1e-6)


@pytest.mark.parametrize("override,message", [
    ("noise.rate=1.0", r"noise.rate must be in \[0, 1\)"),
    ("noise.rate=-0.1", r"noise.rate must be in \[0, 1\)"),
    ("loss=piecewise_zero loss.c=1.5", r"loss.c \(piecewise_zero\) must be in \[0.0, 1.0\]"),
    ("noise.mode=pairwise", "noise.mode must be one of exact, bernoulli"),
    ("folds=1", "folds must be an integer >= 2"),
    ("detector.filter_by=bogus", "detector.filter_by 'bogus' is not one of"),
    ("+detector.frac_nois=0.5", r"unknown parameter\(s\) \['frac_nois'\]"),
    ("protocol=holdout", "protocol must be one of crossval, test_set; got 'holdout'"),
])
def test_bad_values_fail_validation(compose_config, override, message):
    cfg = compose_config(*override.split())
    with pytest.raises(ValueError, match=message):
        validate(ExperimentSettings.from_dict(OmegaConf.to_container(cfg, resolve=True)))


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "robustloss.run", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_cli_bad_group_name_lists_the_options(tmp_path):
    out = run_cli("loss=nope", f"results_dir={tmp_path}", cwd=REPO)
    assert out.returncode != 0
    assert "Could not find 'loss/nope'" in out.stderr
    assert "blurry" in out.stderr and "piecewise_zero" in out.stderr


def test_table_sweep_config_refuses_a_single_run(tmp_path):
    out = run_cli("experiment=table1", f"results_dir={tmp_path}",
                  "hydra.run.dir=" + str(tmp_path / "hydra"), cwd=REPO)
    assert out.returncode != 0 and "make reproduce-<table>" in out.stderr
    assert not list(tmp_path.glob("*.json"))


def test_cli_bad_value_fails_before_training(tmp_path):
    out = run_cli("loss=piecewise_zero", "loss.c=2", f"results_dir={tmp_path}",
                  "hydra.run.dir=" + str(tmp_path / "hydra"), cwd=REPO)
    assert out.returncode != 0
    assert "loss.c (piecewise_zero) must be in [0.0, 1.0], got 2" in out.stderr
    assert not list(tmp_path.glob("*.json"))


def test_fidelity_authors_code_turns_on_every_authors_code_behaviour(compose_config):
    from robustloss.experiments.experiment import authors_code_behaviours
    settings = lambda *o: ExperimentSettings.from_dict(  # noqa: E731
        OmegaConf.to_container(compose_config(*o), resolve=True))
    paper = settings()
    assert not any(authors_code_behaviours(paper).values())
    assert paper.train.precision == "auto"
    authors = settings("fidelity=authors_code")
    assert all(authors_code_behaviours(authors).values())
    assert (authors.noise.mode, authors.cv.split, authors.cv.split_seed, authors.cv.carry_model,
            authors.train.precision) == ("bernoulli", "kfold", 123, True, "fp16")
    assert authors.id != paper.id
    # each behaviour alone
    alone = settings("cv.carry_model=true")
    assert [k for k, v in authors_code_behaviours(alone).items() if v] == ["model_carried_over_folds"]


def test_digits_keeps_unit_inputs_and_paper_datasets_train_on_raw_pixels(compose_config):
    assert compose_config("dataset=digits").train.inputs == "unit"
    for name in ("mnist", "fashion_mnist", "cifar10", "cifar100"):
        assert compose_config(f"dataset={name}").train.inputs == "raw"
