"""The find-issues benchmark's decision rule (amendment 2 of studies/find_issues_benchmark.md)
on hand-made cell means."""

from __future__ import annotations

import numpy as np
import pandas as pd

CELLS = 6


def table(**means):
    """Cell means per candidate: a constant plus a fixed per-cell wobble."""
    wobble = np.array([0.0, 0.01, -0.01, 0.02, -0.02, 0.0])
    return pd.DataFrame({f"paper / {name}": value + wobble for name, value in means.items()})


def chosen(module, cells, passes):
    lines = module.decision(cells, pd.Series(passes))
    return next(line for line in lines if line.startswith("Default by the rule"))


def test_a_clear_lead_wins(load_script):
    module = load_script("find_issues_benchmark")
    cells = table(CE=0.80, **{"BL auto": 0.85})
    cells["paper / BL auto"] += np.linspace(0, 0.002, CELLS)   # a lead far above its noise
    assert "**paper / BL auto**" in chosen(module, cells, {"paper / CE": 1, "paper / BL auto": 2})


def test_a_lead_within_twice_its_noise_goes_to_fewer_passes(load_script):
    module = load_script("find_issues_benchmark")
    cells = table(CE=0.80, **{"BL auto": 0.80})
    cells["paper / BL auto"] += [0.03, -0.02, 0.025, -0.02, 0.02, -0.025]  # mean +0.0017, noisy
    assert "**paper / CE**" in chosen(module, cells, {"paper / CE": 1, "paper / BL auto": 2})


def test_a_cell_below_ce_by_more_than_twice_the_pass_noise_excludes(load_script):
    module = load_script("find_issues_benchmark")
    cells = table(CE=0.80, **{"BL auto": 0.86})
    cells.loc[0, "paper / BL auto"] = 0.80 - 2 * module.PASS_NOISE - 0.001
    assert "**paper / CE**" in chosen(module, cells, {"paper / CE": 1, "paper / BL auto": 2})


def test_the_gate_takes_ces_flags_below_its_estimated_noise_rate(load_script):
    module = load_script("find_issues_benchmark")
    _, rule = module.CANDIDATES["CE below η̂ 0.2, else BL auto"]
    assert rule(0.191) == ("flagged_ce", 1) and rule(0.2) == ("flagged", 2)


def test_agreement_flags_what_both_passes_flag(load_script):
    module = load_script("find_issues_benchmark")
    _, rule = module.CANDIDATES["BL auto and CE agree"]
    assert rule(0.05) == ("flagged_both", 2) == rule(0.4)
