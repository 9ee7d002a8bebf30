"""Table 1 rows over seeds: Welch's test against the paper's cells, paired differences
over seeds, and Figure 9, from hand-made records (scipy's raw-sample tests as the oracle)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from robustloss.records import find_records
from robustloss.reporting.figures import FIGURES
from robustloss.reporting.figures.records import MissingRecords, frame
from robustloss.reporting.seed_statistics import (
    cells,
    paired_differences,
    seed_frame,
    summary_markdown,
    write_seed_comparison,
)
from robustloss.reporting.tables import records_frame
from tests.test_tables import make_record

CE = [0.975, 0.972, 0.978, 0.974, 0.976]
BL = [0.984, 0.983, 0.986, 0.985, 0.982]       # BL - CE per seed: 0.009, 0.011, 0.008, 0.011, 0.006
PZ = [0.970, 0.985, 0.975, 0.980, 0.972]


@pytest.fixture
def rows(tmp_path):
    i = 0
    for loss, params, values in [("ce", {}, CE), ("blurry", {"gamma": 0.4}, BL),
                                 ("blurry", {"gamma": 0.8}, [0.99]),   # one seed: not chosen
                                 ("piecewise_zero", {"c": 0.01}, PZ)]:
        for seed, f1 in enumerate(values):
            make_record(tmp_path, i, "mnist", 0.2, loss, f1, seed=seed, **params)
            i += 1
    return tmp_path


def test_cells_carry_welch_p_against_the_paper_cell(rows):
    table = cells(seed_frame(records_frame(find_records(rows))), "f1")
    ce = table[table["column"] == "CE"].iloc[0]
    assert ce["n"] == 5 and ce["paper_mean"] == pytest.approx(0.975)
    # oracle: Welch's t-test of our five seeds against 20 values with the paper's mean and sd
    paper = np.array([-1.0, 1.0] * 10)
    paper = 0.975 + 0.001 * paper / paper.std(ddof=1)
    assert ce["welch_p"] == pytest.approx(stats.ttest_ind(CE, paper, equal_var=False).pvalue, rel=1e-6)
    bl = table[table["column"] == "BL"].iloc[0]
    assert bl["parameter"] == "γ=0.4" and bl["n"] == 5        # the γ with the most seeds
    assert bl["mean"] == pytest.approx(np.mean(BL))


def test_paired_differences_match_a_paired_t_interval(rows):
    paired = paired_differences(seed_frame(records_frame(find_records(rows))), "f1")
    bl = paired[paired["difference"] == "BL − CE"].iloc[0]
    expected = stats.ttest_rel(BL, CE).confidence_interval(0.95)
    assert bl["n"] == 5
    assert (bl["ci_low"], bl["ci_high"]) == pytest.approx((expected.low, expected.high))
    assert bl["ci_low"] > 0                                   # BL above CE on these seeds
    pz = paired[paired["difference"] == "PZ − CE"].iloc[0]
    assert pz["ci_low"] < 0 < pz["ci_high"]                    # PZ undecided
    assert bl["paper_difference"] == pytest.approx(0.984 - 0.975)


def test_written_tables_and_figure(rows, tmp_path):
    out = tmp_path / "out"
    text = write_seed_comparison(records_frame(find_records(rows)), out)
    assert "Welch p" in text and "BL − CE" in text and "balanced accuracy" in text
    assert (out / "seed_comparison.csv").exists() and (out / "paired_differences.csv").exists()
    # Table 2's BL cell for MNIST eta 0.2 is at gamma 0.5, ours at 0.4: the paper's is named
    f1_part, ba_part = text.split("### balanced accuracy")
    assert "0.993 ± 0.000 (γ=0.5)" in ba_part and "(γ=0.5)" not in f1_part
    fig, data = FIGURES[9][2](frame(rows), None)
    assert set(data["loss"]) == {"ce", "blurry", "piecewise_zero"}
    assert (data.loc[data["loss"] == "blurry", "seeds"] == 5).all()


def test_the_readme_digest_puts_datasets_side_by_side_in_the_papers_order(rows):
    # a Fashion-MNIST row with CE only, seeds 0-1, written after MNIST's records
    for seed, f1 in enumerate([0.884, 0.886]):
        make_record(rows, 100 + seed, "fashion_mnist", 0.2, "ce", f1, seed=seed)
    frame = seed_frame(records_frame(find_records(rows)))
    table = pd.concat([cells(frame, "f1"), cells(frame, "balanced_accuracy")])
    paired = paired_differences(frame, "f1")
    lines = summary_markdown(table, paired).splitlines()
    assert lines[0].index("| MNIST η 0.2") < lines[0].index("| Fashion-MNIST η 0.2")
    by_loss = {line.strip("| ").split(" | ")[0]: line.strip("| ").split(" | ")
               for line in lines[2:] if line.startswith("| ")}
    assert list(by_loss)[:3] == ["CE", "BL", "PZ"]            # the paper's column order
    bl = by_loss["BL"]
    assert bl[1] == f"{np.mean(BL):.4f} ± {np.std(BL, ddof=1):.4f} (5), γ=0.4"
    assert bl[3:5] == ["–", "–"]                             # no BL on Fashion-MNIST
    expected = stats.ttest_rel(BL, CE).confidence_interval(0.95)
    mnist_pairs = next(line for line in lines if line.startswith("| MNIST η 0.2 |"))
    assert f"[{expected.low:.4f}, {expected.high:.4f}] (n 5)" in mnist_pairs


def test_figure_needs_more_than_one_seed(tmp_path):
    make_record(tmp_path, 0, "mnist", 0.2, "ce", 0.97)
    with pytest.raises(MissingRecords, match="one seed"):
        FIGURES[9][2](frame(tmp_path), None)


def test_tables_with_the_paper_carry_the_comparison_over_seeds(rows, tmp_path):
    from robustloss.reporting.tables import write_tables

    text = write_tables(rows, tmp_path / "tables", paper=True)
    assert "Over seeds" in text and "Welch p" in text
    assert (tmp_path / "tables" / "seed_comparison.csv").exists()
    assert "Over seeds" not in write_tables(rows, tmp_path / "plain")


def test_table_and_figure_pick_the_same_parameter_on_a_tie_of_seeds(tmp_path):
    # two γ with three seeds each: both the table and Figure 9 take the better mean F1
    for i, (gamma, f1) in enumerate([(0.4, 0.980), (0.8, 0.985)] * 3):
        make_record(tmp_path, i, "mnist", 0.2, "blurry", f1, seed=i // 2, gamma=gamma)
    table = cells(seed_frame(records_frame(find_records(tmp_path))), "f1")
    assert list(table["parameter"]) == ["γ=0.8"]
    _, data = FIGURES[9][2](frame(tmp_path), None)
    assert list(data.loc[data["metric"] == "f1", "parameter"]) == [0.8]
