"""Tables from hand-made records: layout, best-parameter choice, ranks, paper comparison."""

import json

import pandas as pd
import pytest

from robustloss.reporting.paper import published
from robustloss.reporting.tables import write_tables


def make_record(folder, i, dataset, eta, loss, f1, seed=0, seconds=None, identity=None, subset=None,
                **params):
    record = {
        "id": f"r{i:04d}",
        "settings": {"dataset": {"name": dataset, "subset": subset}, "noise": {"rate": eta},
                     "loss": {"name": loss, "params": params, "delay": 0},
                     "detector": {"name": "confident_learning"}, "seed": seed},
        "metrics": {"f1": f1, "balanced_accuracy": f1},
        "noise": {"source": "synthetic"},
    }
    if seconds is not None:
        record["timings"] = {"total_seconds": seconds}
    if identity is not None:
        record["identity"] = identity
    (folder / f"{record['id']}.json").write_text(json.dumps(record))


@pytest.fixture
def mnist_records(tmp_path):
    rows = [("ce", {}, [0.975, 0.977]),               # paper 0.975 ± 0.001 -> inside
            ("blurry", {"gamma": 0.4}, [0.984, 0.986]),
            ("blurry", {"gamma": 0.8}, [0.950, 0.952]),
            ("piecewise_zero", {"c": 0.01}, [0.900, 0.902])]  # paper 0.983 ± 0.001 -> outside
    i = 0
    for loss, params, values in rows:
        for seed, f1 in enumerate(values):
            make_record(tmp_path, i, "mnist", 0.2, loss, f1, seed=seed, **params)
            i += 1
    return tmp_path


def test_best_gamma_is_chosen_and_cells_are_ranked(mnist_records):
    markdown = write_tables(mnist_records)
    row = next(line for line in markdown.splitlines() if line.startswith("| mnist"))
    assert "**<u>0.985 ± 0.001 (γ=0.4)</u>**" in row      # best
    assert "**0.976 ± 0.001**" in row                       # second
    assert "0.901 ± 0.001 (c=0.01)" in row and "**0.901" not in row
    summary = pd.read_csv(mnist_records / "tables" / "f1_confident_learning.csv")
    bl = summary[summary["column"] == "BL"].iloc[0]
    assert bl["variants"] == 2 and bl["n"] == 2


def test_paper_values_and_two_sigma_marks(mnist_records):
    markdown = write_tables(mnist_records, paper=True)
    row = next(line for line in markdown.splitlines() if line.startswith("| mnist"))
    ce_cell, bl_cell, pz_cell = (c for c in row.split("|")[3:6])
    assert "paper 0.975, Δ +0.001" in ce_cell and "†" not in ce_cell
    assert "paper 0.984 (γ=0.4), Δ +0.001" in bl_cell and "†" not in bl_cell
    assert "paper 0.983 (c=0.01), Δ -0.082 †" in pz_cell
    summary = pd.read_csv(mnist_records / "tables" / "f1_confident_learning.csv")
    assert set(summary["outside_2sigma"]) == {True, False}


def test_published_numbers_are_shipped_with_the_package():
    paper = published()
    assert len(paper) == 279  # Tables 1-5 and Figure 6's separation numbers
    cell = paper[(paper["table"] == "table1_f1") & (paper["dataset"] == "MNIST")
                 & (paper["eta"] == 0.2) & (paper["loss"] == "BL")].iloc[0]
    assert (cell["mean"], cell["std"], cell["param_value"]) == (0.984, 0.001, 0.4)
    assert set(paper[paper["table"] == "table4_f1_cifar_n"]["eta"]) == {"human"}


def test_no_records_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no records found"):
        write_tables(tmp_path)


def test_a_second_record_for_the_same_cell_and_seed_is_not_a_second_seed(tmp_path, caplog):
    make_record(tmp_path, 1, "mnist", 0.2, "ce", 0.90)
    make_record(tmp_path, 2, "mnist", 0.2, "ce", 0.80)  # same cell, same seed, newer file
    (tmp_path / "r0001.json").write_text(
        (tmp_path / "r0001.json").read_text().replace('"metrics"', '"created": "2026-01-01", "metrics"'))
    (tmp_path / "r0002.json").write_text(
        (tmp_path / "r0002.json").read_text().replace('"metrics"', '"created": "2026-02-01", "metrics"'))
    markdown = write_tables(tmp_path)
    row = next(line for line in markdown.splitlines() if line.startswith("| mnist"))
    assert "0.800" in row and "±" not in row
    assert "left out: r0001" in caplog.text


def test_records_with_other_training_settings_are_not_averaged_together(tmp_path):
    for i, (lr, f1) in enumerate([(1e-4, 0.90), (1e-3, 0.70)]):
        make_record(tmp_path, i, "mnist", 0.2, "ce", f1, seed=i)
        path = tmp_path / f"r{i:04d}.json"
        record = json.loads(path.read_text())
        record["identity"] = {"train": {"lr": lr}, "folds": 5}
        path.write_text(json.dumps(record))
    row = next(line for line in write_tables(tmp_path).splitlines() if line.startswith("| mnist"))
    assert "0.900 (train.lr=0.0001)" in row and "±" not in row  # best variant, not a 2-seed mean


def test_a_cell_without_a_balanced_accuracy_does_not_break_the_tables(tmp_path):
    make_record(tmp_path, 0, "mnist", 0.0, "ce", float("nan"))
    assert "nan" in write_tables(tmp_path)


def test_latex_has_no_raw_unicode(mnist_records):
    write_tables(mnist_records, paper=True)
    tex = (mnist_records / "tables" / "f1_confident_learning.tex").read_text()
    assert not set("±γΔ·†–") & set(tex)
    assert r"\textbf{\underline{" in tex


def test_equal_printed_values_get_equal_marks(tmp_path):
    # 0.7962 and 0.7958 both print as 0.796: both are best; 0.790 is second
    for i, (loss, f1) in enumerate([("ce", 0.7962), ("focal", 0.7958), ("gce", 0.790),
                                    ("anl_ce", 0.700)]):
        make_record(tmp_path, i, "mnist", 0.2, loss, f1)
    markdown = write_tables(tmp_path)
    row = next(line for line in markdown.splitlines() if "| 0.2" in line)
    assert row.count("**<u>0.796</u>**") == 2
    assert "**0.790**" in row and "| 0.700" in row


def test_rows_per_noise_kind_show_the_realised_rate_and_paper_values_only_for_symmetric(tmp_path):
    for i, (kind, realised) in enumerate((("symmetric", 0.2), ("asymmetric", 0.1))):
        for seed in (0, 1):
            record = {
                "id": f"k{i}{seed}",
                "settings": {"dataset": {"name": "mnist", "subset": None},
                             "noise": {"rate": 0.2, "kind": kind},
                             "loss": {"name": "ce", "params": {}, "delay": 0},
                             "detector": {"name": "confident_learning"}, "seed": seed},
                "metrics": {"f1": 0.9 + seed / 100, "balanced_accuracy": 0.9},
                "noise": {"source": "synthetic", "kind": kind,
                          "rate_realised": realised + seed / 1000}}
            (tmp_path / f"{record['id']}.json").write_text(json.dumps(record))
    markdown = write_tables(tmp_path, paper=True).split("### balanced")[0]
    rows = [line for line in markdown.splitlines() if line.startswith("| mnist")]
    assert "| noise " in markdown
    assert rows[0].startswith("| mnist     | symmetric  | 0.2 ") and "paper 0.975" in rows[0]
    assert "asymmetric | 0.2 (realised 0.10)" in rows[1] and "paper" not in rows[1]
