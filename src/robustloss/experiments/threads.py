"""How many CPU threads one experiment uses (``threads``).

A small CNN at batch 64 does not spread over many threads, so a sweep is faster as several
one-thread experiments side by side than as one wide one after another (``make bench``
measures both). ``threads: auto`` = torch's default (every core) for a lone experiment;
inside a ``launcher=parallel`` sweep, the cores shared out: cores // experiments at once.
"""

from __future__ import annotations

import os

import torch

from robustloss.errors import UserError


def cpu_cores() -> int:
    """The cores this process may use (its affinity mask: a SLURM allocation or taskset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def parallel_jobs(n_jobs: int, cores: int) -> int:
    """Experiments at once for joblib's ``n_jobs`` (-1 = one per core, -2 = all but one)."""
    if n_jobs == 0:
        raise UserError("hydra.launcher.n_jobs must not be 0 (-1 = one experiment per core)")
    return max(1, cores + 1 + n_jobs if n_jobs < 0 else n_jobs)


def experiment_threads(setting, n_jobs: int | None, cores: int | None = None) -> int | None:
    """Threads for one experiment: ``setting`` an integer >= 1 or "auto"; ``n_jobs`` the
    parallel launcher's (None: not in a parallel sweep). None = leave torch's default."""
    cores = cores or cpu_cores()
    if setting == "auto":
        if n_jobs is None:
            return None
        return max(1, cores // parallel_jobs(n_jobs, cores))
    if isinstance(setting, bool) or not isinstance(setting, int) or setting < 1:
        raise UserError(f"threads must be 'auto' or an integer >= 1, got {setting!r}")
    return setting


def use_threads(setting, n_jobs: int | None) -> int:
    """Apply ``experiment_threads`` to torch; returns the threads now in use."""
    threads = experiment_threads(setting, n_jobs)
    if threads is not None:
        torch.set_num_threads(threads)
    return torch.get_num_threads()
