"""One experiment = one JSON record (+ one .npz of arrays), keyed by a hash of the settings
that change the result. Files are written to a temporary name and renamed into place, the
JSON last, so a record that exists is complete."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


# What np.load and reading its arrays raise for a missing, truncated or foreign .npz file.
NPZ_READ_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)


class CorruptRecordError(RuntimeError):
    """A record file exists but cannot be read."""


def record_id(identity: dict) -> str:
    """16 hex digits of the SHA-256 of ``identity`` as canonical JSON."""
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write) -> None:
    """Write through a temporary file renamed into place; the file gets the permissions any
    file the user creates gets (0666 less the umask), not mkstemp's private 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_writable(folder: str | os.PathLike) -> Path:
    """Create ``folder`` if needed and prove a file can be written there, before any work;
    ValueError naming the folder otherwise."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as err:
        raise ValueError(f"results_dir {str(folder)!r} is not writable: {err.strerror or err}") from None
    return folder


class RecordStore:
    """Records under one folder: ``<id>.json`` and ``<id>.npz``."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def json_path(self, rid: str) -> Path:
        return self.root / f"{rid}.json"

    def npz_path(self, rid: str) -> Path:
        return self.root / f"{rid}.npz"

    def load(self, rid: str) -> dict | None:
        """The record, or None when it does not exist; CorruptRecordError when unreadable."""
        path = self.json_path(rid)
        return read_record(path) if path.exists() else None

    def load_arrays(self, rid: str) -> dict[str, np.ndarray]:
        """The record's arrays; CorruptRecordError when the .npz is not the one the record
        was written with (e.g. a forced re-run killed between its two writes)."""
        path = self.npz_path(rid)
        if not path.exists():
            raise CorruptRecordError(f"record {self.json_path(rid)} has no arrays file {path}")
        expected = (self.load(rid) or {}).get("arrays_sha256")
        if expected and _sha256(path) != expected:
            raise CorruptRecordError(f"{path} does not match its record {self.json_path(rid)}")
        with np.load(path) as data:
            return {key: data[key] for key in data.files}

    def write(self, record: dict, arrays: dict[str, np.ndarray] | None = None) -> Path:
        """Write ``<id>.npz`` (when ``arrays``), then ``<id>.json``; each through a temporary
        file renamed into place, so a failure (a full disk, an interrupt) leaves neither a
        partial file nor an arrays file without its record, and earlier records untouched."""
        rid = record["id"]
        text = json.dumps(record, indent=2, sort_keys=True, default=str)  # fails before any write
        npz = self.npz_path(rid)
        try:
            if arrays:
                atomic_write(npz, lambda h: np.savez_compressed(h, **arrays))
                record = {**record, "arrays_sha256": _sha256(npz)}
                text = json.dumps(record, indent=2, sort_keys=True, default=str)
            atomic_write(self.json_path(rid), lambda h: h.write(text.encode()))
        except BaseException:
            if arrays and not self.json_path(rid).exists():
                npz.unlink(missing_ok=True)
            raise
        return self.json_path(rid)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_record(path: Path) -> dict:
    """Read one record file; CorruptRecordError when it is unreadable or incomplete."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CorruptRecordError(f"cannot read record {path}: {err}") from err
    if not isinstance(record, dict) or record.get("id") != Path(path).stem or "metrics" not in record:
        raise CorruptRecordError(f"record {path} is incomplete or belongs to another id")
    return record


def find_records(root: str | os.PathLike) -> list[dict]:
    """Every readable record under ``root`` (recursively); unreadable ones are reported on the
    log and left out, never used."""
    records = []
    for path in sorted(Path(root).rglob("*.json")):
        try:
            records.append(read_record(path))
        except CorruptRecordError as err:
            log.warning("skipping %s", err)
    return records


def noise_kind(record: dict) -> str:
    """symmetric | asymmetric | pairflip | instance | human (records made before noise kinds
    existed are symmetric)."""
    noise = record.get("noise", {})
    if noise.get("source") == "human":
        return "human"
    return noise.get("kind") or record["settings"]["noise"].get("kind", "symmetric")
