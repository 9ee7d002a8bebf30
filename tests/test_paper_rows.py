"""robustloss reproduce rows: a row's plan comes from the paper's published table (the
row's best γ / c, its strongest baseline), the committed records count as done, and only
the missing experiments run."""

import shutil

import pytest

from robustloss.reporting.paper import DATASET_LABELS, published
from robustloss.reporting.paper.rows import row_plan

from .conftest import REPO, SHARED_DATA
from .test_reproduce import reproduce

ROWS = [(dataset, eta) for dataset in ("mnist", "fashion_mnist") for eta in (0.1, 0.2, 0.3, 0.4)]


def paper_cells(dataset, table):
    frame = published()
    return frame[(frame["table"] == table) & (frame["dataset"] == DATASET_LABELS[dataset])]


def jobs_of(plan, loss):
    return [job for job in plan if f"loss={loss}" in job]


@pytest.mark.parametrize(("dataset", "eta"), ROWS)
def test_a_rows_plan_is_read_from_the_published_table(dataset, eta):
    cells = paper_cells(dataset, "table1_f1")
    cells = cells[cells["eta"] == eta].set_index("loss")
    plan = row_plan(dataset, eta)
    # the oracle: pandas' own argmax over the four other baselines of the row
    strongest = cells.loc[["FL", "GCE", "ANL-CE", "ANL-FL"], "mean"].idxmax()
    ours = {"FL": "focal", "GCE": "gce", "ANL-CE": "anl_ce", "ANL-FL": "anl_fl"}
    assert len(plan) == len({tuple(job) for job in plan}) == 15
    for loss, seeds in (("ce", 3), ("blurry", 3), ("piecewise_zero", 3), (ours[strongest], 3)):
        assert sorted(j[-1] for j in jobs_of(plan, loss)) == [f"seed={s}" for s in range(seeds)]
    for column, loss in ours.items():
        if column != strongest:
            assert [j[-1] for j in jobs_of(plan, loss)] == ["seed=0"]
    assert f"loss.gamma={cells.loc['BL', 'param_value']:g}" in jobs_of(plan, "blurry")[0]
    assert f"loss.c={cells.loc['PZ', 'param_value']:g}" in jobs_of(plan, "piecewise_zero")[0]
    assert all(f"dataset={dataset}" in job and f"noise.rate={eta:g}" in job for job in plan)
    # seed by seed: every seed-0 job comes before any seed-1 job
    assert plan.index(jobs_of(plan, "ce")[1]) > plan.index(jobs_of(plan, "blurry")[0])


def test_the_papers_named_strongest_baselines():
    assert jobs_of(row_plan("mnist", 0.4), "gce")[-1][-1] == "seed=2"
    assert jobs_of(row_plan("fashion_mnist", 0.1), "focal")[-1][-1] == "seed=2"


@pytest.mark.parametrize(("dataset", "eta"), ROWS)
def test_table2_settings_are_table2s_own(dataset, eta):
    cells = paper_cells(dataset, "table2_balanced_accuracy")
    cells = cells[cells["eta"] == eta].set_index("loss")
    plan = row_plan(dataset, eta, "table2")
    assert len(plan) == 6
    assert {f"loss.gamma={cells.loc['BL', 'param_value']:g}", f"loss.c={cells.loc['PZ', 'param_value']:g}"} \
        == {j[3] for j in plan}


def test_a_rate_the_paper_lacks_is_one_line_naming_the_rates():
    out = reproduce("rows", "--rates", "0.25", "--list")
    assert out.returncode == 2
    line = out.stderr.strip().splitlines()[-1]
    assert "eta 0.25" in line and "0.1, 0.2, 0.3, 0.4" in line, out.stderr


def test_the_committed_eta_02_records_are_the_rows_plan_done(tmp_path):
    committed = REPO / "results" / "paper"
    if not any(committed.glob("*.json")):
        pytest.skip("no committed records in results/paper")
    out = reproduce("rows", "--rates", "0.2", "--list", "--results", str(committed))
    assert out.returncode == 0, out.stderr[-2000:]
    assert "30 of 30 done, 0 missing" in out.stdout
    assert "+ " not in out.stdout  # nothing launched


@pytest.mark.skipif(not (SHARED_DATA / "MNIST").is_dir(), reason="MNIST is not in ../shared/data")
def test_rows_run_only_what_is_missing(tmp_path):
    args = ("rows", "--datasets", "mnist", "--rates", "0.4", "--seeds", "1", "--results",
            str(tmp_path), "--", f"dataset.root={SHARED_DATA}", "dataset.subset=300",
            "train.epochs=2", "folds=2")
    first = reproduce(*args)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "0 of 7 done, 7 missing" in first.stdout and first.stdout.count("+ ") == 7
    assert "loss.gamma=0.5" in first.stdout and "loss.c=0.04" in first.stdout
    assert (tmp_path / "tables" / "seed_comparison.md").exists()
    records = sorted(tmp_path.glob("*.json"))
    assert len(records) == 7
    (records[0]).unlink()
    again = reproduce(*args)
    assert "6 of 7 done, 1 missing" in again.stdout and again.stdout.count("+ ") == 1
    shutil.rmtree(tmp_path / "tables")


def test_on_slurm_a_loss_setting_is_one_job_array_over_its_seeds():
    from robustloss.cli.reproduce_rows import _slurm_commands

    plan = row_plan("mnist", 0.4)   # CE, BL, PZ, GCE over seeds 0-2; FL, ANL-CE, ANL-FL on 0
    commands = _slurm_commands(plan)
    assert len(commands) == 7
    for command in commands:
        assert command[1:5] == ["-m", "robustloss.run", "-m", "launcher=slurm"]
        seeds = next(o for o in command if o.startswith("seed=")).split("=")[1]
        loss = next(o for o in command if o.startswith("loss="))
        assert seeds == ("0,1,2" if loss in ("loss=ce", "loss=blurry", "loss=piecewise_zero",
                                             "loss=gce") else "0")
    assert sum(len(o.split("=")[1].split(",")) for c in commands for o in c
               if o.startswith("seed=")) == len(plan)
