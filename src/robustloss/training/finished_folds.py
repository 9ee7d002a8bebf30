"""The folds a killed cross-validation had finished, kept so that running the experiment again
trains only the rest.

A paper-protocol experiment trains its five fold models one after another, about an hour on
one CPU thread; a job killed in its last fold (a session's end, a SLURM time limit, a
pre-emption) would otherwise start over. Each finished fold's held-out probabilities and
statistics go to ``<results_dir>/predictions/folds/<record id>/fold<k>.npz``, and the
experiment's record, once written, replaces them. Each fold's model, batch order
and augmentation are seeded on their own (``seed * 1000 + k``), so a resumed experiment
trains exactly the models an uninterrupted one would.

A saved fold is used only when it was made for the same experiment (record id), held out the
same samples, and ran the same arithmetic (the precision resolved on the device) on the same
kind of device (CPU model and flags, or GPU); otherwise it is trained again, with one line
saying why. Its wall time and the commit it ran under travel into the fold's statistics
(``earlier_run``), so the record's total wall time still counts it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from robustloss.records import NPZ_READ_ERRORS, atomic_write

log = logging.getLogger("robustloss")


@dataclass(frozen=True)
class FinishedFolds:
    """folder: where this experiment's finished folds are kept; key: what a saved fold must
    have been made with to be used (JSON-able); origin: what a saved fold says about the run
    that made it (commit, start time)."""

    folder: Path
    key: dict
    origin: dict

    def path(self, k: int) -> Path:
        return self.folder / f"fold{k}.npz"

    def load(self, k: int, held_out: np.ndarray, num_classes: int) -> tuple[np.ndarray, dict] | None:
        """Fold k's (probabilities (m, num_classes), statistics) from an earlier run, when it
        made them for ``held_out`` (the dataset indices the fold predicts) under this key;
        else None."""
        path = self.path(k)
        if not path.exists():
            return None
        try:
            with np.load(path) as saved:
                key, stats = json.loads(str(saved["key"])), json.loads(str(saved["stats"]))
                probs, indices = saved["probabilities"], saved["held_out"]
        except NPZ_READ_ERRORS as err:
            log.warning("fold %d saved by an earlier run (%s) cannot be read (%s); training it again",
                        k, path, type(err).__name__)
            return None
        differs = sorted(name for name in {*key, *self.key} if key.get(name) != self.key.get(name))
        if differs:
            log.warning("fold %d saved by an earlier run (%s) differs in %s; training it again",
                        k, path, ", ".join(differs))
            return None
        if (not np.array_equal(indices, held_out) or probs.shape != (len(held_out), num_classes)
                or not np.isfinite(probs).all()):
            log.warning("fold %d saved by an earlier run (%s) does not fit this split; "
                        "training it again", k, path)
            return None
        log.info("fold %d: taken from an earlier run (started %s)", k,
                 stats.get("earlier_run", {}).get("started"))
        return probs, stats

    def save(self, k: int, probs: np.ndarray, held_out: np.ndarray, stats: dict,
             seconds: float) -> None:
        """Keep fold k's probabilities for ``held_out`` with its statistics; ``seconds``: the
        fold's wall time (training and prediction)."""
        stats = {**stats, "earlier_run": {**self.origin, "seconds": seconds,
                                          "saved": datetime.now(timezone.utc).isoformat(timespec="seconds")}}
        atomic_write(self.path(k), lambda h: np.savez(
            h, probabilities=probs, held_out=held_out, key=json.dumps(self.key, sort_keys=True),
            stats=json.dumps(stats)))


def folder_of(cache_dir: str | Path, record_id: str) -> Path:
    """Where the experiment ``record_id`` keeps its finished folds under ``cache_dir``."""
    return Path(cache_dir) / "folds" / record_id


def resumed_seconds(folds: list[dict]) -> float:
    """The wall time earlier runs spent on the folds (a record's per-fold statistics) this run
    took from them."""
    return sum(f["earlier_run"]["seconds"] for f in folds if "earlier_run" in f)
