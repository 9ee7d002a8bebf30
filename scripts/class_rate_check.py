"""Would the automatic gamma do better read off the noise rate *where the errors are*?

Under class-dependent noise only some classes flip (digits' asymmetric map: 5 of 10), so
the fraction of wrong labels is about eta / 2 and cleanlab's estimate of it is right; the
best gamma follows the rate inside the flipped classes. For each case this recomputes the
cross-entropy pass (paper protocol, as the cached grid passes), estimates per true class k
the rate r_k = 1 - J[k, k] / sum_s J[s, k] from cleanlab's joint J[given, true], and
compares three readings of the noise: the overall rate (today's rule), the largest r_k,
and the error-weighted mean sum_k r_k^2 pi_k / sum_k r_k pi_k (the rate a wrong label
sits in). F1 at each reading's gamma is interpolated between the cached grid passes of
``auto_parameter_check.py`` (seed means), so no Blurry Loss pass runs.

    python scripts/class_rate_check.py --cache results/auto_check_digits/passes.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from auto_parameter_check import planted, read_cache
from cleanlab.count import estimate_joint

from robustloss.experiments.provenance import resolve_device
from robustloss.find.choose import estimate_noise_rate, parameter_for_noise
from robustloss.find.core import FindSettings, model_for, out_of_fold


def readings(labels: np.ndarray, probs: np.ndarray) -> dict:
    joint = estimate_joint(labels=labels, pred_probs=probs)   # [given, true]
    prior = joint.sum(0)
    rate = 1 - np.diag(joint) / np.maximum(prior, 1e-12)
    return {"overall": estimate_noise_rate(labels, probs),    # today's rule, as find-issues reads it
            "largest class": float(rate.max()),
            "where the errors are": float((rate ** 2 * prior).sum() / max((rate * prior).sum(), 1e-12))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", default="results/auto_check_digits/passes.jsonl")
    parser.add_argument("--kinds", default="symmetric,asymmetric")
    parser.add_argument("--rates", default="0.1,0.2,0.3")
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    cached = pd.DataFrame(read_cache(Path(args.cache)).values())
    if "auto" in cached:  # planting's rows: not grid passes
        cached = cached[cached["auto"].isna()]
    grid = cached[cached.loss == "blurry"]
    grid = grid.assign(gamma=grid.params.map(lambda p: p["gamma"]),
                       kind=grid.kind.fillna("symmetric"))
    device, rows = resolve_device("cpu"), []
    for kind in args.kinds.split(","):
        for rate in map(float, args.rates.split(",")):
            curve = grid[(grid.kind == kind) & (grid.rate == rate)
                         & grid.gamma.isin(np.round(np.arange(0.1, 0.81, 0.1), 1))]
            curve = curve.groupby("gamma").f1.mean()
            for seed in map(int, args.seeds.split(",")):
                data, _ = planted("digits", None, rate, seed, kind)
                probs = out_of_fold(data, FindSettings(seed=seed, protocol="paper"), "ce", {},
                                    model_for(data), device, False)
                for name, eta in readings(data.labels, probs).items():
                    gamma = parameter_for_noise("blurry", eta)
                    rows.append({"kind": kind, "eta": rate, "seed": seed, "reading": name,
                                 "eta_hat": eta, "gamma": gamma,
                                 "f1": float(np.interp(gamma, curve.index, curve.values)),
                                 "best grid f1": curve.max(), "best gamma": curve.idxmax()})
                print(json.dumps(rows[-3:]), flush=True)
    table = pd.DataFrame(rows).groupby(["kind", "eta", "reading"]).agg(
        eta_hat=("eta_hat", "mean"), gamma=("gamma", "mean"), f1=("f1", "mean"),
        best=("best grid f1", "first"), best_gamma=("best gamma", "first")).reset_index()
    table["gap"] = table.best - table.f1
    print(table.to_markdown(index=False, floatfmt=".3f"))
    print(table.groupby(["kind", "reading"]).gap.mean().to_markdown(floatfmt=".4f"))


if __name__ == "__main__":
    main()
