"""``robustloss run``: the Hydra app, one composed config -> one experiment -> one record.

    robustloss run dataset=digits loss=blurry loss.gamma=0.4 noise.rate=0.2 seed=3
    robustloss run -m loss=ce,focal noise.rate=0.1,0.2      # a sweep (multirun)

The configs are the packaged ``robustloss.conf`` (or $ROBUSTLOSS_CONFIG_DIR); add your own
folder with ``--config-dir DIR`` or ``hydra.searchpath=[file:///abs/DIR]``.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from robustloss.errors import TRACEBACK_VARIABLE, UserError, as_user_errors, report
from robustloss.experiments.config import config_path
from robustloss.experiments.experiment import ExperimentSettings, run_and_record
from robustloss.experiments.progress import summarise_unfinished
from robustloss.experiments.threads import use_threads
from robustloss.training.host_memory import keep_freed_memory

log = logging.getLogger("robustloss")


def describe(settings: ExperimentSettings) -> str:
    params = ", ".join(f"{k}={v}" for k, v in settings.loss.params.items())
    kind = "" if settings.noise.kind == "symmetric" else f" {settings.noise.kind}"
    return (f"{settings.dataset.name}{kind} eta={settings.noise.rate} {settings.loss.name}"
            f"({params}) delay={settings.loss.delay} {settings.detector.name} seed={settings.seed}")


@hydra.main(version_base="1.3", config_path=config_path(), config_name="config")
def main(cfg: DictConfig) -> dict:
    """One experiment. Alone, a user error (bad setting or file) ends the process with one
    line on stderr and exit status 2 (a traceback with ROBUSTLOSS_TRACEBACK=1). In a sweep,
    any error fails this experiment only: one line in its log, the others go on, and the
    sweep lists the failures at its end (robustloss.experiments.progress)."""
    if HydraConfig.get().mode == RunMode.MULTIRUN and not os.environ.get(TRACEBACK_VARIABLE):
        try:
            return experiment(cfg)
        except Exception as err:  # noqa: BLE001 -- reported, counted, exit status at the end
            if _signalled:  # the interruption, surfaced as another error: stop the sweep
                raise KeyboardInterrupt from err
            line = str(err).splitlines()[0] if str(err) else type(err).__name__
            if not isinstance(err, UserError):
                line = f"{type(err).__name__}: {line}"
            log.error("experiment failed: %s", line)
            return {"failed": line}
    try:
        return experiment(cfg)
    except UserError as err:
        if os.environ.get(TRACEBACK_VARIABLE):
            raise
        sys.stderr.flush()
        os._exit(report(err))  # not SystemExit: Hydra would wrap it in its own report


INTERRUPTED = ("robustloss: interrupted; finished records are kept (each is written whole or "
               "not at all); run the same command again to resume: finished experiments are "
               "skipped")


_signalled: list[int] = []


def _as_interrupt(signum, frame):
    _signalled.append(signum)
    raise KeyboardInterrupt


def run_main() -> None:
    """``main`` as a command: SIGTERM (a ``kill``, a scheduler stopping the job) ends it as
    Ctrl-C does, with one line saying how to resume and exit status 130; a sweep whose
    launcher raised still ends with the summary of what its jobs left. A signal that lands
    inside Hydra's or OmegaConf's own code can surface as another error, which Hydra reports
    and exits 1 on: after a signal, any failure counts as the interruption."""
    previous = {sig: signal.signal(sig, _as_interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        main()
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr, flush=True)
        raise SystemExit(130) from None
    except SystemExit as stop:
        if stop.code in (0, None):
            raise
        if _signalled:
            print(INTERRUPTED, file=sys.stderr, flush=True)
            raise SystemExit(130) from None
        summarise_unfinished()  # the launcher raised (e.g. a cancelled SLURM task): what the
        raise                   # jobs left, the missing ones named
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def experiment(cfg: DictConfig) -> dict:
    if "sweep" in cfg and HydraConfig.get().mode != RunMode.MULTIRUN:
        raise UserError("this experiment config describes a table sweep: run it with "
                        "`robustloss reproduce <table>` (make reproduce-<table>), not as one experiment")
    keep_freed_memory()  # a job's process is ours, in a worker too (training/host_memory.py)
    with as_user_errors():
        config = OmegaConf.to_container(cfg, resolve=True)
        settings = ExperimentSettings.from_config(config)
        launcher = HydraConfig.get().launcher
        use_threads(cfg.get("threads", "auto"), launcher.get("n_jobs")
                    if HydraConfig.get().mode == RunMode.MULTIRUN else None)
    record, ran = run_and_record(settings, cfg.results_dir, cfg.force, config, cfg.progress,
                                 overrides=list(HydraConfig.get().overrides.task))
    m = record["metrics"]
    status = f"ran in {record['timings']['total_seconds']:.1f}s" if ran else "skipped (record exists)"
    if m.get("n_corrupted", 1) == 0:  # the labels as given, no known corruption: no F1
        log.info("%s [%s] %s: %d of %d flagged (no known corruption to score against)",
                 describe(settings), record["id"], status, m["n_flagged"],
                 record["data"]["num_judged"])
    else:
        log.info("%s [%s] %s: F1 %.4f, balanced accuracy %.4f", describe(settings), record["id"],
                 status, m["f1"], m["balanced_accuracy"])
    return {"id": record["id"], "ran": ran, "f1": m["f1"],
            "balanced_accuracy": m["balanced_accuracy"]}


if __name__ == "__main__":
    run_main()
