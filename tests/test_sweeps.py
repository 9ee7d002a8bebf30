from omegaconf import OmegaConf

from robustloss.experiments.experiment import ExperimentSettings, run_and_record
from robustloss.experiments.sweeps import expand, merge_sweep_overrides, pending_jobs


def test_expand_is_the_cartesian_product_with_plain_overrides_in_every_job():
    jobs = expand(["loss=ce,blurry", "seed=range(0,3)", "folds=2"])
    assert len(jobs) == 6
    assert jobs[0] == ["loss=ce", "seed=0", "folds=2"]
    assert jobs[-1] == ["loss=blurry", "seed=2", "folds=2"]


def test_command_line_wins_over_config_sweep_params():
    merged = merge_sweep_overrides({"seed": "0,1", "noise.rate": "0.1,0.2"}, ["seed=5"])
    assert sorted(merged) == ["noise.rate=0.1,0.2", "seed=5"]
    assert len(expand(merged)) == 2


def test_pending_jobs_shrink_as_records_appear(tmp_path, compose_config):
    overrides = ["experiment=demo_piecewise_zero", "seed=0", "noise.rate=0.2",
                 f"results_dir={tmp_path}", "dataset.subset=300", "train.epochs=2", "folds=2"]
    pending = pending_jobs(overrides)
    assert len(pending) == 3  # the demo's c grid
    cfg = OmegaConf.to_container(compose_config(*pending[1]), resolve=True)
    run_and_record(ExperimentSettings.from_dict(cfg), tmp_path, progress=False)
    left = pending_jobs(overrides)
    assert left == [pending[0], pending[2]]
    (tmp_path / f"{ExperimentSettings.from_dict(cfg).id}.json").write_text("{")
    assert len(pending_jobs(overrides)) == 3  # an unreadable record does not count
