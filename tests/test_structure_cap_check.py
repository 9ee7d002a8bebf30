"""scripts/structure_cap_check.py: each cap's gamma is looked up among the cached grid passes
and scored against the best grid value of the seed means."""

from __future__ import annotations

import numpy as np
import pytest

from robustloss.find.choose import (
    LARGEST,
    NoiseEstimate,
    parameter_for_confusion_cap,
    parameter_for_noise,
    parameter_for_structure,
)


def test_each_cap_is_scored_on_the_cached_pass_at_its_value(load_script):
    script = load_script("structure_cap_check")
    case = {"dataset": "mnist", "subset": 5000, "rate": 0.3, "kind": "asymmetric"}
    noise = NoiseEstimate(0.15, 0.27)                       # 3 x flip = 0.81: every cap binds
    rows = []
    for seed, shift in ((0, 0.0), (1, 0.02)):
        rows.append({**case, "seed": seed, "loss": "ce", "params": {}, "f1": 0.7,
                     "eta_hat": noise.rate, "flip": noise.flip})
        paper = parameter_for_noise("blurry", noise.rate)
        for gamma, f1 in ((0.6, 0.90), (0.7, 0.88), (0.8, 0.70), (paper, 0.76)):
            rows.append({**case, "seed": seed, "loss": "blurry", "params": {"gamma": gamma},
                         "f1": f1 + shift})
    table = script.gaps(rows, [0.6, 0.7, 0.8])
    key = ("mnist", "asymmetric", 0.3)
    assert table["noise_structure, cap 0.6"][key] == pytest.approx((0.6, 0.91, 0.0))
    assert table["noise_structure, cap 0.7"][key] == pytest.approx((0.7, 0.89, 0.02))
    assert table["noise_structure, cap 0.8"][key] == pytest.approx((0.8, 0.71, 0.2))
    gamma, f1, gap = table["noise_estimate"][key]
    assert gamma == pytest.approx(parameter_for_noise("blurry", 0.15)) and f1 == pytest.approx(0.77)
    assert parameter_for_structure("blurry", noise, largest=0.7) == 0.7
    assert LARGEST["blurry"] != 0.7                         # the default cap left alone
    assert np.isnan(script.gaps(rows, [0.65])["noise_structure, cap 0.65"][key][1])  # no pass there
    # passes of the same labels retrained with another seed (pass_noise_check) stay out
    retrained = [{**row, "train_seed": 7, "f1": 0.1} for row in rows]
    assert script.gaps(rows + retrained, [0.6])["noise_structure, cap 0.6"][key] == \
        pytest.approx((0.6, 0.91, 0.0))


def test_the_confusion_gate_is_scored_only_where_the_unsure_share_was_read(load_script):
    """Open gate (unsure 0.02): the grid pass at the gated cap 0.7; closed (0.2): the paper
    value's pass; cross-entropy rows without the reading: no score for the gate."""
    script = load_script("structure_cap_check")
    noise = NoiseEstimate(0.15, 0.27)
    paper = parameter_for_noise("blurry", noise.rate)

    def case_rows(dataset: str, unsure: float | None) -> list[dict]:
        case = {"dataset": dataset, "subset": 5000, "rate": 0.3, "kind": "asymmetric", "seed": 0}
        ce = {**case, "loss": "ce", "params": {}, "f1": 0.7, "eta_hat": noise.rate,
              "flip": noise.flip} | ({} if unsure is None else {"unsure": unsure})
        return [ce] + [{**case, "loss": "blurry", "params": {"gamma": g}, "f1": f1}
                       for g, f1 in ((0.6, 0.80), (0.7, 0.85), (paper, 0.75))]

    rows = case_rows("mnist", 0.02) + case_rows("fashion_mnist", 0.2) + case_rows("digits", None)
    gated = script.gaps(rows, [0.6])["confusion_gate"]
    assert gated[("mnist", "asymmetric", 0.3)] == pytest.approx((0.7, 0.85, 0.0))
    assert gated[("fashion_mnist", "asymmetric", 0.3)] == pytest.approx((paper, 0.75, 0.1))
    assert ("digits", "asymmetric", 0.3) not in gated
    capped = script.gaps(rows, [0.6])["confusion_cap"]                 # shut: 3 x 0.27 -> 0.6
    assert capped[("mnist", "asymmetric", 0.3)] == pytest.approx((0.7, 0.85, 0.0))
    assert capped[("fashion_mnist", "asymmetric", 0.3)] == pytest.approx((0.6, 0.80, 0.05))
    assert ("digits", "asymmetric", 0.3) not in capped


def test_a_steeper_shut_raise_is_scored_between_passes_only_when_asked(load_script):
    """4 x flip where the gate is shut (unsure 0.2): flip 0.1 -> gamma 0.4 (3 x: 0.3); no
    pass at 0.3 or 0.4 except the grid's, so confusion_cap is scored only by interpolation,
    half-way between 0.2 and 0.4; where the gate is open the steeper rule is confusion_cap."""
    script = load_script("structure_cap_check")
    case = {"dataset": "mnist", "subset": 5000, "rate": 0.2, "kind": "instance", "seed": 0}
    shut = NoiseEstimate(0.2, 0.1, 0.2)
    rows = [{**case, "loss": "ce", "params": {}, "f1": 0.8, "eta_hat": shut.rate,
             "flip": shut.flip, "unsure": shut.unsure}]
    rows += [{**case, "loss": "blurry", "params": {"gamma": g}, "f1": f1}
             for g, f1 in ((0.2, 0.90), (0.4, 0.94), (0.6, 0.92))]
    key = ("mnist", "instance", 0.2)
    steeper = "confusion_cap, 4 x flip where shut"
    exact = script.gaps(rows, [0.6], shut_slopes=(4,))
    assert exact[steeper][key] == pytest.approx((0.4, 0.94, 0.0))
    assert np.isnan(exact["confusion_cap"][key][1])                  # no pass at 0.3
    between = script.gaps(rows, [0.6], shut_slopes=(4,), interpolate=True)
    assert between["confusion_cap"][key] == pytest.approx((0.3, 0.92, 0.02))
    assert np.isnan(script.f1_at({0.2: 0.9, 0.4: 0.94}, 0.5, interpolate=True))  # outside
    open_gate = NoiseEstimate(0.2, 0.1, 0.02)
    assert script.shut_slope_rule(4)(open_gate) == parameter_for_confusion_cap("blurry", open_gate)
