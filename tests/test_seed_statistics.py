"""Table 1 rows over seeds: Welch's test against the paper's cells, paired differences
over seeds, and Figure 9, from hand-made records (scipy's raw-sample tests as the oracle)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from robustloss.records import find_records
from robustloss.reporting.figures import FIGURES
from robustloss.reporting.figures.records import MissingRecords, frame
from robustloss.reporting.figures.style import LOSS_ORDER
from robustloss.reporting.seed_statistics import (
    cells,
    markdown,
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


GCE = [0.975, 0.975, 0.977]                      # seeds 0-2: the row's strongest other baseline


def digest(folder) -> dict[str, list[str]]:
    """The README digest's lines by row name, split into cells."""
    frame = seed_frame(records_frame(find_records(folder)))
    text = summary_markdown(cells(frame, "f1"), paired_differences(frame, "f1"))
    lines = [line.strip("| ").split(" | ") for line in text.splitlines()[2:]]
    return {line[0]: line[1:] for line in lines}


def test_the_readme_digest_has_a_line_per_row_with_its_intervals_and_verdict(rows):
    for seed, f1 in enumerate(GCE):
        make_record(rows, 50 + seed, "mnist", 0.2, "gce", f1, seed=seed)
    for seed, f1 in enumerate([0.884, 0.886]):   # a Fashion-MNIST row with CE only
        make_record(rows, 100 + seed, "fashion_mnist", 0.2, "ce", f1, seed=seed)
    lines = digest(rows)
    assert list(lines) == ["MNIST η 0.2", "Fashion-MNIST η 0.2"]   # the paper's order
    bl_ce, pz_ce, bl_best, outside, verdict = lines["MNIST η 0.2"]
    expected = stats.ttest_rel(BL, CE).confidence_interval(0.95)
    assert bl_ce == (f"{np.mean(np.subtract(BL, CE)):+.4f} [{expected.low:.4f}, {expected.high:.4f}], "
                     "n 5; paper +0.009")
    # MNIST eta 0.2's strongest other baseline in the paper's Table 1 is GCE (0.975)
    expected = stats.ttest_rel(BL[:3], GCE).confidence_interval(0.95)
    assert bl_best.startswith("GCE: ") and f"[{expected.low:.4f}, {expected.high:.4f}], n 3" in bl_best
    assert outside == f"PZ {np.mean(PZ) - 0.983:+.4f}"      # the paper's PZ: 0.983 ± 0.001
    assert verdict == "BL holds; PZ cannot tell at n 5"      # PZ − CE includes zero
    assert lines["Fashion-MNIST η 0.2"][:3] == ["–", "–", "–"]


def test_a_row_against_the_paper_is_written_as_such(tmp_path):
    """BL below its strongest baseline on every seed, and a CE cell far off the paper's."""
    for seed in range(3):
        make_record(tmp_path, seed, "mnist", 0.4, "ce", 0.950 + 0.001 * seed, seed=seed)
        make_record(tmp_path, 10 + seed, "mnist", 0.4, "gce", 0.990 + 0.001 * seed, seed=seed)
        make_record(tmp_path, 20 + seed, "mnist", 0.4, "blurry", 0.980 + 0.002 * seed, seed=seed,
                    gamma=0.5)
        make_record(tmp_path, 30 + seed, "mnist", 0.4, "piecewise_zero", 0.960 - 0.003 * seed,
                    seed=seed, c=0.04)
    bl_ce, pz_ce, bl_best, outside, verdict = digest(tmp_path)["MNIST η 0.4"]
    assert bl_best.startswith("GCE: −") or bl_best.startswith("GCE: -")
    assert verdict == "BL does not hold (BL − GCE below zero); PZ cannot tell at n 3"
    assert outside.startswith("CE -0.02")     # paper 0.973 ± 0.001: ours 0.951


def test_a_claim_the_papers_own_row_breaks_says_so(tmp_path):
    """Fashion-MNIST eta 0.1: the paper's Focal (0.831) is ahead of its Blurry Loss (0.826)."""
    for seed in range(2):
        make_record(tmp_path, seed, "fashion_mnist", 0.1, "ce", 0.820 + 0.001 * seed, seed=seed)
        make_record(tmp_path, 10 + seed, "fashion_mnist", 0.1, "focal", 0.832 + 0.002 * seed,
                    seed=seed)
        make_record(tmp_path, 20 + seed, "fashion_mnist", 0.1, "blurry", 0.826 + 0.001 * seed,
                    seed=seed, gamma=0.1)
    *_, verdict = digest(tmp_path)["Fashion-MNIST η 0.1"]
    assert verdict == ("BL does not hold (BL − FL below zero, as in the paper); "
                       "PZ not run over seeds yet")


def test_each_table_is_compared_at_the_papers_own_setting_when_it_ran(tmp_path):
    """BL at γ 0.4 (five seeds, Table 1's γ for MNIST η 0.2) and at γ 0.5 (three seeds,
    Table 2's): F1 is compared at 0.4, balanced accuracy at 0.5, in the tables and Figure 9."""
    for seed in range(5):
        make_record(tmp_path, seed, "mnist", 0.2, "ce", 0.975, seed=seed)
        make_record(tmp_path, 10 + seed, "mnist", 0.2, "blurry", 0.984, seed=seed, gamma=0.4)
    for seed in range(3):
        make_record(tmp_path, 20 + seed, "mnist", 0.2, "blurry", 0.983, seed=seed, gamma=0.5)
    records = records_frame(find_records(tmp_path))
    for metric, gamma, n in [("f1", 0.4, 5), ("balanced_accuracy", 0.5, 3)]:
        bl = cells(seed_frame(records, metric), metric).set_index("column").loc["BL"]
        assert (bl["parameter"], bl["n"]) == (f"γ={gamma}", n)
        assert bl["paper_param"] == f"γ={gamma}"
    _, data = FIGURES[9][2](frame(tmp_path), None)
    bl = data[data["loss"] == "blurry"].set_index("metric")
    assert bl.loc["f1", "parameter"] == 0.4 and bl.loc["balanced_accuracy", "parameter"] == 0.5


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
    # two γ, neither the paper's, with three seeds each: both take the better mean F1
    for i, (gamma, f1) in enumerate([(0.6, 0.980), (0.8, 0.985)] * 3):
        make_record(tmp_path, i, "mnist", 0.2, "blurry", f1, seed=i // 2, gamma=gamma)
    table = cells(seed_frame(records_frame(find_records(tmp_path))), "f1")
    assert list(table["parameter"]) == ["γ=0.8"]
    _, data = FIGURES[9][2](frame(tmp_path), None)
    assert list(data.loc[data["metric"] == "f1", "parameter"]) == [0.8]


def test_a_row_part_way_through_its_seeds_names_what_is_missing(tmp_path):
    """CE and BL over two seeds, GCE and PZ on seed 0 only (MNIST η 0.4 as it lands)."""
    for seed, (ce, bl) in enumerate([(0.974, 0.9895), (0.971, 0.9895)]):
        make_record(tmp_path, seed, "mnist", 0.4, "ce", ce, seed=seed)
        make_record(tmp_path, 10 + seed, "mnist", 0.4, "blurry", bl, seed=seed, gamma=0.5)
    make_record(tmp_path, 20, "mnist", 0.4, "gce", 0.987, seed=0)
    make_record(tmp_path, 30, "mnist", 0.4, "piecewise_zero", 0.988, seed=0, c=0.04)
    *_, verdict = digest(tmp_path)["MNIST η 0.4"]
    assert verdict == ("BL cannot tell at n 2 (BL − GCE not over seeds yet); "
                       "PZ not run over seeds yet")


def test_each_cell_gives_its_runs_median_wall_time_from_the_records(tmp_path):
    for seed, seconds in enumerate([1500.0, 1800.0, 3000.0]):
        make_record(tmp_path, seed, "mnist", 0.4, "ce", 0.97, seed=seed, seconds=seconds)
    make_record(tmp_path, 10, "mnist", 0.4, "gce", 0.98, seed=0)      # a record without timings
    table = cells(seed_frame(records_frame(find_records(tmp_path))), "f1").set_index("column")
    assert table.loc["CE", "minutes"] == 30.0 and np.isnan(table.loc["GCE", "minutes"])
    text = markdown(table.reset_index(), paired_differences(seed_frame(
        records_frame(find_records(tmp_path))), "f1"))
    assert "| 30 |" in text and text.count("| – |") >= 1


def test_figure_9_takes_the_records_the_tables_take(tmp_path):
    """Two pipeline versions of BL γ 0.4 (five and three seeds) and a second copy of one
    record in a subfolder: the figure shows the five-seed version once, as the table does."""
    for seed in range(5):
        make_record(tmp_path, seed, "mnist", 0.2, "ce", 0.975, seed=seed)
        make_record(tmp_path, 10 + seed, "mnist", 0.2, "blurry", 0.984, seed=seed,
                    identity={"pipeline_version": 5}, gamma=0.4)
    for seed in range(3):
        make_record(tmp_path, 20 + seed, "mnist", 0.2, "blurry", 0.950, seed=seed,
                    identity={"pipeline_version": 4}, gamma=0.4)
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "r0010.json").write_text((tmp_path / "r0010.json").read_text())
    table = cells(seed_frame(records_frame(find_records(tmp_path))), "f1").set_index("column")
    _, data = FIGURES[9][2](frame(tmp_path), None)
    bl = data[(data["loss"] == "blurry") & (data["metric"] == "f1")].iloc[0]
    assert (bl["seeds"], bl["mean"]) == (table.loc["BL", "n"], table.loc["BL", "mean"]) == (5, 0.984)


def test_a_subset_is_compared_with_the_paper_neither_in_the_tables_nor_in_figure_9(tmp_path):
    """300 MNIST images are not the paper's experiment: no paper cell in the table, no band in
    the figure (the paper's γ still picks the variant)."""
    for seed in range(2):
        make_record(tmp_path, seed, "mnist", 0.2, "ce", 0.90, seed=seed, subset=300)
        make_record(tmp_path, 10 + seed, "mnist", 0.2, "blurry", 0.91, seed=seed, subset=300,
                    gamma=0.4)
    table = cells(seed_frame(records_frame(find_records(tmp_path))), "f1")
    assert table["paper_mean"].isna().all()
    _, data = FIGURES[9][2](frame(tmp_path), None)
    assert len(data) == 4 and data["paper_mean"].isna().all()


def test_a_missing_comparison_keeps_the_verdict_open(tmp_path):
    """CE, BL and PZ over three seeds, no record of the row's strongest baseline (GCE)."""
    for seed in range(3):
        make_record(tmp_path, seed, "mnist", 0.2, "ce", 0.975 + 0.001 * seed, seed=seed)
        make_record(tmp_path, 10 + seed, "mnist", 0.2, "blurry", 0.984 + 0.0005 * seed,
                    seed=seed, gamma=0.4)
        make_record(tmp_path, 20 + seed, "mnist", 0.2, "piecewise_zero", 0.983, seed=seed, c=0.01)
    bl_ce, pz_ce, bl_best, _, verdict = digest(tmp_path)["MNIST η 0.2"]
    assert bl_best == "–"
    assert verdict == "BL holds so far (BL − GCE not over seeds yet); PZ holds"


def test_a_paired_difference_names_the_papers_other_setting(tmp_path):
    """Fashion-MNIST η 0.2 at Table 1's γ 0.2: Table 2's balanced accuracy is at γ 0.4."""
    for seed in range(3):
        make_record(tmp_path, seed, "fashion_mnist", 0.2, "ce", 0.884, seed=seed)
        make_record(tmp_path, 10 + seed, "fashion_mnist", 0.2, "blurry", 0.888 + 0.001 * seed,
                    seed=seed, gamma=0.2)
    frame = seed_frame(records_frame(find_records(tmp_path)), "balanced_accuracy")
    pairs = paired_differences(frame, "balanced_accuracy").set_index("difference")
    assert pairs.loc["BL − CE", "paper_at"] == "BL γ=0.4"
    f1 = paired_differences(seed_frame(records_frame(find_records(tmp_path))), "f1")
    assert f1.set_index("difference").loc["BL − CE", "paper_at"] == ""
    assert "(at BL γ=0.4)" in markdown(cells(frame, "balanced_accuracy"),
                                       paired_differences(frame, "balanced_accuracy"))


def test_figure_9_keeps_a_wide_paper_band_from_flattening_its_panel():
    """Fashion-MNIST η 0.4: the paper's Focal cell is 0.896 ± 0.033 (F1); the panel spans our
    scores and the paper's means, and that band runs off it."""
    from robustloss.reporting.figures.seed_rows import paper_band, y_range

    bands = [paper_band("fashion_mnist", 0.4, loss, "f1") for loss in LOSS_ORDER]
    low, high = y_range([0.918, 0.936], bands)
    assert low < 0.896 < 0.934 + 0.002 < high          # every paper mean and its narrow band
    assert high < 0.896 + 2 * 0.033                     # Focal's band is cut
