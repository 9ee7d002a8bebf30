"""Debian packages a test needs (SLURM, chromium), installed on first use as a fresh CI
machine has none: root and apt-get required, else the test skips with the reason."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

LOCK = Path(tempfile.gettempdir()) / "robustloss-tests-apt.lock"


def ensure_installed(what: str, binaries: tuple[str, ...], packages: tuple[str, ...]) -> str | None:
    """None when every binary is on PATH (installing ``packages`` first when one is
    missing); otherwise why not. Installs one at a time (a file lock): pytest workers may
    ask for SLURM and chromium at once, and apt-get allows one run."""
    if all(shutil.which(b) for b in binaries):
        return None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return f"{what} is not installed and cannot be (needs root and apt-get)"
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _install(what, binaries, packages)


def _install(what: str, binaries: tuple[str, ...], packages: tuple[str, ...]) -> str | None:
    if all(shutil.which(b) for b in binaries):  # another worker installed them meanwhile
        return None
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]):
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        if out.returncode:
            return f"installing {what} failed: {' '.join(cmd)}: {out.stderr.strip()[-300:]}"
    missing = [b for b in binaries if not shutil.which(b)]
    return f"{what} installed but {missing} not on PATH" if missing else None
