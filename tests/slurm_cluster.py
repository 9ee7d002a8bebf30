"""A throwaway single-node SLURM cluster on localhost (munged + slurmctld + slurmd), all
under one temporary folder, for tests. Needs root and Debian's slurm-wlm and munge packages;
``ensure_slurm_installed`` installs them with apt-get when they are missing.

No slurmdbd: a tiny ``sacct`` stand-in answering from ``squeue`` is put first on PATH, which
is all submitit needs to see a job's state."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .debian import ensure_installed

DAEMONS = ("slurmd", "slurmctld", "munged")
SACCT_SHIM = """#!/bin/bash
# sacct stand-in: submitit calls `sacct -o JobID,State,NodeList --parsable2 -j ID ...`.
echo "JobID|State|NodeList"
while [ $# -gt 0 ]; do
  case "$1" in
    -j|--jobs) squeue -h -t all -r -o '%i|%T|%N' -j "$2" 2>/dev/null; shift 2 ;;
    *) shift ;;
  esac
done
exit 0
"""


def ensure_slurm_installed() -> str | None:
    """None when slurmctld, slurmd and munged are available; otherwise why not."""
    return ensure_installed("SLURM", ("slurmctld", "slurmd", "munged", "sbatch"),
                            ("slurm-wlm", "munge"))


def _wait(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


class LocalSlurm:
    """Start with ``start()``, stop with ``stop()``; ``env`` is what a client needs."""

    def __init__(self, partition: str = "debug"):
        self.partition = partition
        self.root = Path(tempfile.mkdtemp(prefix="robustloss-slurm-", dir="/tmp"))
        self.root.chmod(0o755)  # munged refuses a socket folder that others cannot traverse

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ, SLURM_CONF=str(self.root / "etc/slurm.conf"),
                    PATH=f"{self.root / 'bin'}:{os.environ['PATH']}")

    def _run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=60,
                              check=check)

    def start(self) -> LocalSlurm:
        r = self.root
        for sub in ("etc", "bin", "spool/ctld", "spool/d", "log", "run", "munge/run", "munge/lib"):
            (r / sub).mkdir(parents=True, exist_ok=True)
        (r / "munge").chmod(0o755)
        (r / "munge/run").chmod(0o755)
        (r / "munge/lib").chmod(0o700)
        shim = r / "bin/sacct"
        shim.write_text(SACCT_SHIM)
        shim.chmod(0o755)
        sock = r / "munge/run/munge.socket.2"
        self._run("mungekey", "-c", "-k", str(r / "munge/munge.key"))
        self._run("munged", f"--key-file={r / 'munge/munge.key'}", f"--socket={sock}",
                  f"--pid-file={r / 'run/munged.pid'}", f"--log-file={r / 'log/munged.log'}",
                  f"--seed-file={r / 'munge/lib/munged.seed'}")
        host = socket.gethostname().split(".")[0]  # NodeName must equal `hostname -s`
        memory_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 - 1024
        (r / "etc/slurm.conf").write_text(f"""\
ClusterName=robustloss-test
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={sock}
StateSaveLocation={r}/spool/ctld
SlurmdSpoolDir={r}/spool/d
SlurmctldPidFile={r}/run/slurmctld.pid
SlurmdPidFile={r}/run/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SchedulerParameters=sched_interval=1
MinJobAge=300
InactiveLimit=0
KillWait=5
Waittime=0
NodeName={host} NodeAddr=127.0.0.1 CPUs={os.cpu_count()} RealMemory={memory_mb} State=UNKNOWN
PartitionName={self.partition} Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
        self._run("slurmctld", "-f", str(r / "etc/slurm.conf"))
        self._run("slurmd", "-f", str(r / "etc/slurm.conf"))
        _wait(lambda: self._run("sinfo", "-h", "-o", "%T", check=False).stdout.strip() == "idle",
              60, "the SLURM node to become idle")
        return self

    def stop(self) -> None:
        self._run("scancel", "--user=root", check=False)
        for name in DAEMONS:
            pid_file = self.root / "run" / f"{name}.pid"
            try:
                pid = int(pid_file.read_text())
                if Path(f"/proc/{pid}/comm").read_text().strip() != name:
                    continue  # stale pid file: not our daemon
                os.kill(pid, 15)
                _wait(lambda pid=pid: not Path(f"/proc/{pid}").exists(), 20, f"{name} to exit")
            except (OSError, ValueError, TimeoutError):
                continue
        shutil.rmtree(self.root, ignore_errors=True)
