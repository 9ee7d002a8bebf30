"""What each deviation of the authors' code does to the numbers: CE and BL (gamma 0.4) on
digits at eta = 0.2, under the paper's protocol, with each authors'-code behaviour turned on
alone, and with all of them (fidelity=authors_code). Writes
<results>/fidelity_effects.{md,csv}: mean +- std F1 over seeds and the change from the
paper protocol.

    python scripts/fidelity_effects.py [--results results/fidelity] [--seeds 5] [--rate 0.2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

from robustloss.records import find_records

ROOT = Path(__file__).resolve().parents[1]
# variant -> Hydra overrides on top of the paper protocol (conf/fidelity/*.yaml)
VARIANTS = {
    "paper protocol": [],
    "+ Bernoulli noise": ["noise.mode=bernoulli"],
    "+ KFold(5, random_state=123), unstratified": ["cv.split=kfold", "cv.split_seed=123"],
    "+ one model carried over the folds": ["cv.carry_model=true"],
    "+ float16 autocast + GradScaler": ["train.precision=fp16"],
    "all (fidelity=authors_code)": ["fidelity=authors_code"],
}
BEHAVIOURS = {  # record['authors_code_behaviours'] pattern of each variant
    "paper protocol": (),
    "+ Bernoulli noise": ("bernoulli_noise",),
    "+ KFold(5, random_state=123), unstratified": ("unstratified_kfold_123",),
    "+ one model carried over the folds": ("model_carried_over_folds",),
    "+ float16 autocast + GradScaler": ("fp16_amp_grad_scaler",),
    "all (fidelity=authors_code)": ("bernoulli_noise", "unstratified_kfold_123",
                                    "model_carried_over_folds", "fp16_amp_grad_scaler"),
}


def variant_of(record: dict) -> str | None:
    on = tuple(k for k, v in record.get("authors_code_behaviours", {}).items() if v)
    return next((name for name, pattern in BEHAVIOURS.items() if set(pattern) == set(on)), None)


def summarise(results: str, rate: float) -> pd.DataFrame:
    rows = []
    for r in find_records(results):
        variant = variant_of(r)
        if variant is None or r["settings"]["noise"]["rate"] != rate:
            continue
        loss = r["settings"]["loss"]
        label = "CE" if loss["name"] == "ce" else f"BL γ={loss['params']['gamma']:g}"
        rows.append({"variant": variant, "loss": label, "seed": r["settings"]["seed"],
                     "f1": r["metrics"]["f1"]})
    frame = pd.DataFrame(rows)
    stats = frame.groupby(["variant", "loss"])["f1"].agg(["mean", "std", "count"]).reset_index()
    base = stats[stats.variant == "paper protocol"].set_index("loss")["mean"]
    stats["delta"] = stats["mean"] - stats["loss"].map(base)
    stats["variant"] = pd.Categorical(stats["variant"], list(VARIANTS), ordered=True)
    return stats.sort_values(["variant", "loss"])


def to_markdown(stats: pd.DataFrame) -> str:
    cells = {}
    for row in stats.itertuples():
        text = f"{row.mean:.3f} ± {row.std:.3f}"
        if row.variant != "paper protocol":
            text += f" ({row.delta:+.3f})"
        cells.setdefault(row.variant, {})[row.loss] = text
    table = pd.DataFrame.from_dict(cells, orient="index")
    table = table[sorted(table.columns, key=lambda c: (c != "CE", c))]  # CE first
    table.index.name = "protocol"
    return table.to_markdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default="results/fidelity")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rate", type=float, default=0.2)
    args = parser.parse_args()
    for name, overrides in VARIANTS.items():
        print(f"{name}: {' '.join(overrides) or '(defaults)'}", flush=True)
        code = subprocess.call(
            [sys.executable, "-m", "robustloss.run", "-m", "dataset=digits", "loss=ce,blurry",  # BL γ 0.4
             f"noise.rate={args.rate}", f"seed=range(0,{args.seeds})",
             f"results_dir={args.results}", "progress=false", *overrides],
            cwd=ROOT, stdout=subprocess.DEVNULL)
        if code:
            print(f"sweep failed: {name}", file=sys.stderr)
            return code
    stats = summarise(args.results, args.rate)
    out = Path(args.results)
    stats.to_csv(out / "fidelity_effects.csv", index=False)
    text = (f"F1 on digits, eta = {args.rate}, mean ± std over {args.seeds} seeds "
            f"(change from the paper protocol in brackets)\n\n{to_markdown(stats)}\n")
    (out / "fidelity_effects.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
