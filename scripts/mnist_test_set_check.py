"""Real-world check of find-issues: the 10,000 MNIST test images with their original
labels, against the human review of Northcutt et al. (2021): of 100 test images that
Confident Learning flagged, reviewers confirmed 15 as label errors and judged 85 correctly
labelled (``<data>/label-errors/mnist_test_label_errors.csv``).

``find_label_issues`` with its defaults (gamma / c from the noise estimates) for each loss of
--losses and each protocol of --protocols, and cross-entropy from the same run's comparison
(its first pass, so its numbers are those of ``robustloss find-issues --loss ce``; the
losses after the first take their automatic value from that pass's noise estimate instead
of repeating it, as ``gamma/c=auto`` would compute it): how
many of the 15 are flagged, among the 50 and 100 most suspicious, and how many of the 85
are flagged.

    ROBUSTLOSS_DATA=../shared/data python scripts/mnist_test_set_check.py \\
        [--losses blurry,piecewise_zero] [--protocols paper,strong] [--members 2] \\
        [--out results/mnist_test_set]

--members: models per fold (seeds averaged) in place of the protocol's one.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from robustloss.data import load
from robustloss.data.vision import data_root
from robustloss.experiments.provenance import package_versions
from robustloss.find.choose import PARAMETER_OF, NoiseEstimate
from robustloss.find.core import FindSettings, find_label_issues
from robustloss.find.inputs import UserData


def read_review(root: str | Path | None = None) -> pd.DataFrame:
    """The reviewers' verdict on Confident Learning's 100 MNIST test-set candidates (one row
    each: test_index, given_label, cl_guessed_label, the votes, is_label_error), from
    ``<data>/label-errors`` (``root`` None: ROBUSTLOSS_DATA or the default data folder)."""
    return pd.read_csv(Path(data_root(root)) / "label-errors" / "mnist_test_label_errors.csv")


def review_counts(table: pd.DataFrame, reviewed: pd.DataFrame, flagged: str = "flagged",
                  rank: str = "rank") -> dict:
    errors = set(reviewed.loc[reviewed.is_label_error == 1, "test_index"])
    correct = set(reviewed.loc[reviewed.is_label_error == 0, "test_index"])
    ordered = table.sort_values(rank)["index"]
    chosen = set(table.loc[table[flagged], "index"])
    return {
        "flagged": len(chosen),
        "confirmed errors flagged (of 15)": len(chosen & errors),
        "confirmed errors in top 50": len(set(ordered.head(50)) & errors),
        "confirmed errors in top 100": len(set(ordered.head(100)) & errors),
        "confirmed correct flagged (of 85)": len(chosen & correct),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="results/mnist_test_set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--losses", default="blurry")
    parser.add_argument("--protocols", default="strong", help="robustloss.find.core.PROTOCOLS")
    parser.add_argument("--members", type=int, help="models per fold (default: the protocol's)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    root = data_root(None)
    reviewed = read_review(root)
    mnist = load("mnist", str(root))
    labels = mnist.test_labels.astype(np.int64)
    data = UserData(mnist.test_images, labels, [str(k) for k in range(10)],
                    [str(i) for i in range(len(labels))], "MNIST test set", "images")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, runs, start = {}, {}, time.perf_counter()
    for protocol in args.protocols.split(","):
        recipe = {"protocol": protocol, "members": args.members}
        label = protocol + (f" x{args.members} per fold" if args.members else "")
        noise = None  # the first loss's noise readings, for the later losses' values
        for loss in args.losses.split(","):
            began = time.perf_counter()
            if noise is None or loss not in PARAMETER_OF:
                table = find_label_issues(data, progress=False, loss=loss, seed=args.seed,
                                          compare="ce", **recipe)
            else:  # the automatic value from the first loss's CE pass: the same pass again
                table = find_label_issues(data, progress=False, loss=loss, seed=args.seed,
                                          compare="none", **recipe,
                                          **FindSettings(loss=loss).loss_params(noise))
                table.attrs.update(choice={"by": FindSettings().auto_by,
                                           "estimated_noise_rate": noise.rate,
                                           "estimated_flip_rate": noise.flip,
                                           "unsure_share": noise.unsure},
                                   estimated_noise_rate=noise.rate)
            table.to_csv(out / f"{label.replace(' ', '_')}_{loss}_label_issues.csv", index=False)
            attrs = table.attrs
            name = ", ".join(f"{k} = {v:g}" for k, v in attrs["loss_params"].items())
            eta, choice = attrs["estimated_noise_rate"], attrs["choice"]
            if choice and "estimated_flip_rate" in choice:
                noise = NoiseEstimate(eta, choice["estimated_flip_rate"],
                                      choice.get("unsure_share", 0.0))
            rows[f"{label}: {loss} ({name}, by {(choice or {}).get('by', 'hand')})"] = \
                review_counts(table, reviewed)
            if "flagged_ce" in table:
                rows[f"{label}: ce"] = review_counts(table, reviewed, "flagged_ce", "rank_ce")
            runs[f"{label} {loss}"] = {
                "model": attrs["model"], "loss_params": attrs["loss_params"],
                "choice": attrs["choice"], "passes": attrs["passes"],
                "seconds": time.perf_counter() - began, "estimated_noise_rate": eta}
            print(f"{label} {loss} ({attrs['model']}): estimated noise rate "
                  f"{100 * eta:.2f}%, {time.perf_counter() - began:.0f} s", flush=True)
    frame = pd.DataFrame(rows).T
    frame.index.name = "MNIST test set"
    print(frame.to_markdown())
    (out / "summary.json").write_text(json.dumps({
        "results": rows, "runs": runs, "settings": vars(args),
        "seconds": time.perf_counter() - start, "versions": package_versions()}, indent=2))
    (out / "summary.md").write_text(frame.to_markdown() + "\n")


if __name__ == "__main__":
    main()
