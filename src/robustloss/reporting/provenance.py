"""What made the records behind a table: their commits, whether the source they ran from was
modified, and the machines they ran on, as one line and one CSV row per record.

Records written since provenance is taken when a run starts carry ``provenance`` (commit,
``dirty`` for modified *source*, CPU model and flags; experiments/provenance.py). Older
records carry ``git`` stamped when the record was written, at the end of the run, with a
``dirty`` that counted any untracked file (results included), and no CPU model: they are
reported as such ("stamped at the end"), never as clean.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

# per-record source state, in the order the summary line reports them
CLEAN, MODIFIED, CHANGED, AT_END, UNKNOWN = (
    "clean", "modified source", "source changed during the run", "stamped at the end",
    "no checkout")


def record_provenance(record: dict) -> dict:
    """One flat row: id, commit, source (one of the states above), cpu, cpu_flags, gpu,
    precision, threads, started, created, total_seconds."""
    stamp = record.get("provenance")
    device = record.get("device", {})
    row = {"id": record.get("id"), "created": record.get("created"),
           "precision": record.get("arithmetic", {}).get("precision"),
           "threads": device.get("threads"),
           "total_seconds": record.get("timings", {}).get("total_seconds")}
    if stamp is None:
        git = record.get("git", {})
        return {**row, "commit": git.get("commit"), "source": AT_END, "cpu": None,
                "cpu_flags": None, "gpu": None, "started": None}
    machine = stamp.get("machine", {})
    cpu = machine.get("cpu", {})
    gpus = machine.get("gpus") or []
    if stamp.get("commit") is None:
        source = UNKNOWN
    elif stamp.get("source_changed_during_run"):
        source = CHANGED
    else:
        source = MODIFIED if stamp.get("dirty") else CLEAN
    return {**row, "commit": stamp.get("commit"), "source": source, "cpu": cpu.get("model"),
            "cpu_flags": " ".join(cpu.get("flags", [])), "started": stamp.get("started"),
            "gpu": gpus[0]["name"] if device.get("type") == "cuda" and gpus else None}


def provenance_frame(records: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([record_provenance(r) for r in records])


def _counted(counter: Counter, limit: int = 3) -> str:
    parts = [f"{name} ×{n}" for name, n in counter.most_common(limit)]
    rest = len(counter) - limit
    return ", ".join(parts) + (f" and {rest} more" if rest > 0 else "")


def provenance_line(frame: pd.DataFrame) -> str:
    """``N records from K commits (a ×n, ...); clean n, modified source n (ids), ...; on CPU
    (flags) ×n, ...``: what a reader checks before trusting a table."""
    commits = Counter(c[:7] if isinstance(c, str) else "no commit" for c in frame["commit"])
    sources = Counter(frame["source"])
    states = []
    for state in (CLEAN, MODIFIED, CHANGED, AT_END, UNKNOWN):
        if sources[state]:
            ids = frame.loc[frame["source"] == state, "id"].astype(str)
            named = (f" ({', '.join(ids[:3])}{', ...' if len(ids) > 3 else ''})"
                     if state in (MODIFIED, CHANGED) else "")
            states.append(f"{state} {sources[state]}{named}")
    def machine(row) -> str:
        if isinstance(row.gpu, str):
            return row.gpu
        if not isinstance(row.cpu, str):
            return "CPU not recorded"
        flags = row.cpu_flags if isinstance(row.cpu_flags, str) and row.cpu_flags else "no avx2"
        return f"{row.cpu} ({flags})"

    machines = Counter(machine(row) for row in frame.itertuples())
    return (f"{len(frame)} record{'s' if len(frame) != 1 else ''} from {len(commits)} "
            f"commit{'s' if len(commits) != 1 else ''} ({_counted(commits)}); "
            f"{'; '.join(states)}; on {_counted(machines)}")
