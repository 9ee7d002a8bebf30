"""Content hashes of user-supplied data files, so a record's identity sees the data, not the
path. Hashes are cached by (absolute path, size, modification time) in memory and in
``$XDG_CACHE_HOME/robustloss/file_hashes.json``, so a large file is read again only when it
changes."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

_MEMORY: dict[tuple, str] = {}


def _cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "robustloss" / "file_hashes.json"


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of the file's bytes; FileNotFoundError naming the file when missing."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise FileNotFoundError(f"data file {path} does not exist")
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key in _MEMORY:
        return _MEMORY[key]
    cache_path = _cache_file()
    try:
        cache = json.loads(cache_path.read_text())
    except (OSError, ValueError):
        cache = {}
    text_key = "|".join(map(str, key))
    digest = cache.get(text_key)
    if digest is None:
        h = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                h.update(block)
        digest = h.hexdigest()
        cache = {k: v for k, v in cache.items() if not k.startswith(f"{path}|")}
        cache[text_key] = digest
        try:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(cache))
            os.replace(tmp, cache_path)
        except OSError:
            pass  # an unwritable cache only costs a re-read
    _MEMORY[key] = digest
    return digest
