"""Real-world check of find-issues: the 10,000 MNIST test images with their original
labels, against the human review of Northcutt et al. (2021): of 100 test images that
Confident Learning flagged, reviewers confirmed 15 as label errors and judged 85 correctly
labelled (``<data>/label-errors/mnist_test_label_errors.csv``).

For Blurry Loss with the automatic gamma and for cross-entropy (the same first pass, so
its numbers are those of ``robustloss find-issues --loss ce``): how many of the 15 are
flagged, among the 50 and 100 most suspicious, and how many of the 85 are flagged.

    ROBUSTLOSS_DATA=../shared/data python scripts/mnist_test_set_check.py [--out results/mnist_test_set]
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
from robustloss.detection.detect import confident_learning
from robustloss.experiments.provenance import package_versions, resolve_device
from robustloss.find.choose import estimate_noise_rate
from robustloss.find.core import FindSettings, issue_table, model_for, out_of_fold
from robustloss.find.inputs import UserData


def review_counts(table: pd.DataFrame, reviewed: pd.DataFrame) -> dict:
    errors = set(reviewed.loc[reviewed.is_label_error == 1, "test_index"])
    correct = set(reviewed.loc[reviewed.is_label_error == 0, "test_index"])
    flagged = set(table.loc[table.flagged, "index"])
    return {
        "flagged": len(flagged),
        "confirmed errors flagged (of 15)": len(flagged & errors),
        "confirmed errors in top 50": len(set(table.head(50)["index"]) & errors),
        "confirmed errors in top 100": len(set(table.head(100)["index"]) & errors),
        "confirmed correct flagged (of 85)": len(flagged & correct),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="results/mnist_test_set")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    root = data_root(None)
    reviewed = pd.read_csv(Path(root) / "label-errors" / "mnist_test_label_errors.csv")
    mnist = load("mnist", str(root))
    labels = mnist.test_labels.astype(np.int64)
    data = UserData(mnist.test_images, labels, [str(k) for k in range(10)],
                    [str(i) for i in range(len(labels))], "MNIST test set", "images")
    settings = FindSettings(seed=args.seed)
    device = resolve_device(settings.device)
    make_model = model_for(data)
    rows, start = {}, time.perf_counter()
    ce = out_of_fold(data, settings, "ce", {}, make_model, device, progress=False)
    eta = estimate_noise_rate(labels, ce)
    params = settings.loss_params(eta)
    bl = out_of_fold(data, settings, "blurry", params, make_model, device, progress=False)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, probs in ((f"BL, automatic gamma = {params['gamma']:g}", bl), ("CE", ce)):
        table = issue_table(data, probs, confident_learning(labels, probs))
        table.to_csv(out / f"{name.split(',')[0].lower()}_label_issues.csv", index=False)
        rows[name] = review_counts(table, reviewed)
    frame = pd.DataFrame(rows).T
    frame.index.name = f"MNIST test set (estimated noise rate {100 * eta:.2f}%)"
    print(frame.to_markdown())
    (out / "summary.json").write_text(json.dumps({
        "estimated_noise_rate": eta, "loss_params": params, "results": rows,
        "settings": vars(args), "seconds": time.perf_counter() - start,
        "versions": package_versions()}, indent=2))
    (out / "summary.md").write_text(frame.to_markdown() + "\n")


if __name__ == "__main__":
    main()
