"""Where a number came from, taken when a run starts: the commit and whether the package's
own source differs from it, the package and library versions, the command, and the machine
whose arithmetic made it (CPU model and the flags that decide its precision, or the GPU).

    stamp = take_stamp()            # first thing in an experiment
    ...                             # train for an hour
    record["provenance"] = close_stamp(stamp)   # + whether the source changed meanwhile

Only the files the package runs from count as source: in a checkout ``src/``, ``conf/`` and
``pyproject.toml``; results, notebooks and other untracked files beside them do not.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata, resources
from pathlib import Path

import torch

import robustloss

_PACKAGES = ("torch", "torchvision", "numpy", "scikit-learn", "cleanlab", "aum",
             "hydra-core", "pandas")
# In a checkout: what the package runs from (pyproject.toml maps conf/ into the package).
SOURCE_PATHS = ("src", "conf", "pyproject.toml")
# The CPU flags that decide a CPU run's arithmetic and speed (training/precision.py):
# bf16 matrix units (AMX), bf16 dot products (AVX512-BF16), and the vector widths below them.
ARITHMETIC_FLAGS = ("amx_bf16", "avx512_bf16", "avx512f", "avx2")
PACKAGE_DIR = Path(robustloss.__file__).resolve().parent


@functools.lru_cache(maxsize=1)
def package_versions() -> dict[str, str | None]:
    """Python, this package (the version of the code that runs, not of its install record,
    which an editable install keeps from whenever it was installed) and the libraries."""
    versions: dict[str, str | None] = {"python": platform.python_version(),
                                       "robustloss": robustloss.__version__}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                          timeout=10, check=True).stdout.strip()


def source_root(package_dir: Path | None = None) -> Path | None:
    """The git checkout this package runs from, or None for an installed package (a
    site-packages folder inside some other repository is not a checkout of this one)."""
    package_dir = package_dir or PACKAGE_DIR
    try:
        top = Path(_git(package_dir, "rev-parse", "--show-toplevel")).resolve()
    except (OSError, subprocess.SubprocessError):
        return None
    return top if (top / "src" / package_dir.name).resolve() == package_dir else None


def git_commit(package_dir: Path | None = None) -> dict[str, str | bool | None]:
    """The commit of the checkout the package runs from and ``dirty``: whether its source
    (``SOURCE_PATHS``, untracked source files included) differs from that commit. Both None
    outside a checkout."""
    root = source_root(package_dir or PACKAGE_DIR)
    if root is None:
        return {"commit": None, "dirty": None}
    try:
        changed = _git(root, "status", "--porcelain", "--untracked-files=all", "--", *SOURCE_PATHS)
        return {"commit": _git(root, "rev-parse", "HEAD"), "dirty": bool(changed)}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def _source_files(package_dir: Path) -> list[Path]:
    """The package, its configs (a checkout's conf/, else the packaged ones) and a checkout's
    pyproject.toml, plus $ROBUSTLOSS_CONFIG_DIR where it replaces the configs."""
    root = source_root(package_dir)
    roots = [package_dir, *((root / "conf", root / "pyproject.toml") if root is not None
                            else (Path(str(resources.files("robustloss.conf"))),))]
    if os.environ.get("ROBUSTLOSS_CONFIG_DIR"):
        roots.append(Path(os.environ["ROBUSTLOSS_CONFIG_DIR"]))
    files = set()
    for top in roots:
        if top.is_file():
            files.add(top.resolve())
        elif top.is_dir():
            files.update(p.resolve() for p in top.rglob("*")
                         if p.is_file() and "__pycache__" not in p.parts)
    return sorted(files)


def source_digest(package_dir: Path | None = None) -> str:
    """SHA-256 (16 hex digits) over the package's files and configs as they are on disk now:
    compared at the end of a run, it says whether the code changed while the run went on."""
    digest = hashlib.sha256()
    for path in _source_files(package_dir or PACKAGE_DIR):
        digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _cpuinfo_field(text: str, key: str) -> str | None:
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == key:
            return value.strip()
    return None


def describe_cpu(cpuinfo: str | None = None) -> dict[str, object]:
    """CPU model and which of ``ARITHMETIC_FLAGS`` it has (from /proc/cpuinfo on Linux;
    elsewhere the platform's processor string and no flags)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    flags = set((_cpuinfo_field(cpuinfo, "flags") or "").split())
    model = _cpuinfo_field(cpuinfo, "model name") or platform.processor() or platform.machine()
    return {"model": model, "flags": [f for f in ARITHMETIC_FLAGS if f in flags]}


def describe_machine() -> dict[str, object]:
    """The CPU always (it runs the data handling and, without a GPU, the arithmetic), and
    every visible GPU's name and compute capability."""
    machine: dict[str, object] = {"cpu": describe_cpu(), "platform": platform.platform()}
    if torch.cuda.is_available():
        machine["gpus"] = [{"name": torch.cuda.get_device_name(i),
                            "capability": ".".join(map(str, torch.cuda.get_device_capability(i)))}
                           for i in range(torch.cuda.device_count())]
    return machine


def take_stamp(argv: list[str] | None = None) -> dict[str, object]:
    """Provenance at the start of a run (call it before any training)."""
    return {"taken": "start",
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **git_commit(), "source_digest": source_digest(),
            "command": list(sys.argv if argv is None else argv),
            "machine": describe_machine(), "versions": package_versions()}


def close_stamp(stamp: dict[str, object]) -> dict[str, object]:
    """The stamp with ``source_changed_during_run``: the package's files differ now from
    when the stamp was taken (an edit, a checkout or a pull while the run went on)."""
    return {**stamp, "source_changed_during_run": source_digest() != stamp["source_digest"]}


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; otherwise any torch device string."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N; got {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available")
    return device


def describe_device(device: torch.device) -> dict[str, object]:
    """The device that trained: its type, name (the CPU model, or the GPU's) and threads."""
    if device.type == "cuda":
        return {"type": "cuda", "name": torch.cuda.get_device_name(device),
                "capability": ".".join(map(str, torch.cuda.get_device_capability(device)))}
    return {"type": device.type, "name": describe_cpu()["model"],
            "threads": torch.get_num_threads()}
