"""``robustloss find-issues``: the label errors in your own data.

    robustloss find-issues PATH [--out DIR] [--loss auto] [--gamma auto] [--review K] ...

PATH: an image folder (``PATH/<class>/<image>``), an ``.npz`` (``images``, ``labels``), or a
feature table (``.csv`` / ``.parquet`` with a label column, or ``.npy`` with ``--labels``).
Writes into DIR (default ``label_issues/<input name>``): ``label_issues.csv`` (one row per
sample, most suspicious first), ``review.csv`` (the K most suspicious), ``report.html`` and
``find_issues.json`` (the settings, the chosen parameters, and the provenance taken when it
started: command, commit, versions, machine).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import fields
from pathlib import Path

from robustloss.errors import UserError, as_user_errors, cli

RESULT_FILES = ("label_issues.csv", "review.csv", "report.html", "find_issues.json")


def number_or_auto(text: str):
    if text == "auto":
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {text!r}") from None


def find_issues_parser() -> argparse.ArgumentParser:
    from robustloss.find.choose import LARGEST, LOW_NOISE, SLOPE
    from robustloss.find.core import COMPARE, PROTOCOLS, FindSettings
    from robustloss.training.augment import AUGMENTATIONS

    auto_help = {  # robustloss.find.choose.choose_loss, choose_parameter
        "loss": "auto, or a loss of robustloss.components.losses (ce, blurry, piecewise_zero, "
                "...): auto runs cross-entropy first and keeps its flags where it estimates "
                f"under {100 * LOW_NOISE:.0f}%% noise, else runs Blurry Loss ",
        "gamma": "Blurry Loss's gamma, or auto: the paper's best value at the noise rate a "
                 f"first cross-entropy pass estimates, raised to {SLOPE:g}x the flip rate (up "
                 f"to {LARGEST:g}) where a class's wrong labels concentrate in one other class ",
        "c": "Piecewise-zero's c, or auto: the paper's best value at the estimated noise rate ",
    }

    parser = argparse.ArgumentParser(prog="robustloss find-issues",
                                     description=__doc__.split("\n\n")[2])
    parser.add_argument("path", help="image folder, .npz, .csv, .parquet or .npy")
    parser.add_argument("--out", help="output folder (default: label_issues/<input name>)")
    parser.add_argument("--review", type=int, default=20, metavar="K",
                        help="show the K most suspicious samples, flagged or not (default 20)")
    parser.add_argument("--label-column", default="label", help="feature tables: the label column")
    parser.add_argument("--labels", help=".npy features: the file with one label per row")
    parser.add_argument("--image-size", type=int,
                        help="image folders: resize to this square size (default: keep a common "
                             "size, else 32)")
    parser.add_argument("--force", action="store_true",
                        help="overwrite an output folder that holds another input's results")
    defaults = FindSettings()
    for field in fields(FindSettings):
        kind = number_or_auto if field.name in ("gamma", "c") else (
            float if field.name == "lr" else int if field.type in ("int", "int | None") else str)
        choices = {"compare": COMPARE, "augment": AUGMENTATIONS,
                   "protocol": {name: ", ".join(f"{k} {v}" for k, v in recipe.items())
                                for name, recipe in PROTOCOLS.items()}}.get(field.name)
        default = getattr(defaults, field.name)
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=kind,
                            default=default, choices=choices,
                            help=auto_help.get(field.name, "")
                            + (f"(default {default})" if default is not None else
                                  "(default: the protocol's)" if field.name in PROTOCOLS["paper"]
                                  else "(default: by input kind)")
                            + (": " + "; ".join(f"{k}: {v}" for k, v in choices.items())
                               .replace("%", "%%") if choices else ""))
    parser.add_argument("--quiet", action="store_true", help="no progress bar or stage lines")
    return parser


def output_folder(args) -> Path:
    """The output folder, not yet created; one holding another input's results is refused
    (never merged)."""
    source = str(Path(args.path).expanduser().resolve())
    out = Path(args.out) if args.out else Path("label_issues") / Path(source).name
    previous = out / "find_issues.json"
    if previous.is_file() and not args.force:
        try:
            earlier = json.loads(previous.read_text())["input"]
        except (ValueError, KeyError):
            earlier = None
        if earlier != source:
            raise UserError(f"{out} holds the results of another input ({earlier}); "
                            "choose another --out or add --force")
    return out


def create(out: Path) -> Path:
    """Create the output folder (after the input was read: bad input leaves none behind),
    before any training."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"output folder {out} cannot be created: {error.strerror}") from None
    return out


def run_find_issues(args) -> int:
    from robustloss.experiments.provenance import close_stamp, take_stamp
    from robustloss.find.core import FindSettings, find_label_issues
    from robustloss.find.inputs import check_classes, load_user_data
    from robustloss.find.report import passes_text, summary_line, write_report

    if args.review < 1:
        raise UserError(f"--review must be at least 1, got {args.review}")
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="robustloss: %(message)s", stream=sys.stderr)
    stamp = take_stamp()
    out = output_folder(args)
    settings = {f.name: getattr(args, f.name) for f in fields(FindSettings)}
    start = time.perf_counter()
    with as_user_errors():
        data = check_classes(load_user_data(args.path, args.label_column, args.labels,
                                            args.image_size), args.folds)
    create(out)
    table = find_label_issues(data, progress=not args.quiet, **settings)
    seconds = time.perf_counter() - start
    table.to_csv(out / "label_issues.csv", index=False)
    table.head(args.review).to_csv(out / "review.csv", index=False)
    write_report(table, out / "report.html", data.inputs if data.kind == "images" else None,
                 review=max(args.review, 48))
    attrs = table.attrs
    (out / "find_issues.json").write_text(json.dumps({
        "input": str(Path(args.path).expanduser().resolve()),
        "settings": attrs["settings"], "loss_params": attrs["loss_params"],
        "estimated_noise_rate": attrs["estimated_noise_rate"],
        "choice": attrs["choice"], "passes": attrs["passes"], "model": attrs["model"],
        "num_flagged": attrs["num_flagged"], "num_samples": attrs["num_samples"],
        "class_names": attrs["class_names"], "seconds": seconds,
        "provenance": close_stamp(stamp)}, indent=2))
    print(f"{summary_line(table)}; estimated noise rate {100 * attrs['estimated_noise_rate']:.1f}%; "
          f"{attrs['loss']}{' ' + str(attrs['loss_params']) if attrs['loss_params'] else ''} "
          f"({passes_text(attrs['passes'])}, {seconds:.0f} s)")
    if "flagged_ce" in table:
        ours, ce = table.flagged, table.flagged_ce
        print(f"cross-entropy on the same folds flags {int(ce.sum())}: both {int((ours & ce).sum())}, "
              f"only {attrs['loss']} {int((ours & ~ce).sum())}, only cross-entropy "
              f"{int((ce & ~ours).sum())}")
    print(f"the {args.review} most suspicious:")
    columns = ["rank", "sample", "given_label", "suggested_label", "p_given", "flagged"]
    print(table.head(args.review)[columns].to_string(index=False, float_format="%.3f"))
    print(f"-> {out}/: " + ", ".join(RESULT_FILES))
    return 0


@cli
def main(argv: list[str] | None = None) -> int:
    return run_find_issues(find_issues_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
