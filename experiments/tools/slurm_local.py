"""A single-node SLURM cluster on localhost (slurmctld + slurmd + munged), for tests and trials.

Everything lives in one folder (config, munge key, sockets, state, logs); the daemons listen
on free localhost ports, so it neither needs nor touches /etc/slurm or a system munge.
Needs Debian's ``slurm-wlm`` and ``munge`` packages and root (the daemons run as root)::

    python -m experiments.tools.slurm_local up --dir .slurm     # prints the SLURM_CONF to export
    SLURM_CONF=$PWD/.slurm/slurm.conf sinfo
    python -m experiments.tools.slurm_local down --dir .slurm

(``make slurm-up`` / ``make slurm-down`` do the same in ``.slurm/``.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DAEMONS = ("slurmd", "slurmctld", "munged")  # stop order: the reverse of start
REQUIRED = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo")
PARTITION = "local"


def missing_reason() -> str | None:
    """Why a local cluster cannot start here (None when it can)."""
    missing = [exe for exe in REQUIRED if shutil.which(exe) is None
               and not Path("/usr/sbin", exe).exists()]
    if missing:
        return (f"SLURM/munge not installed (missing {', '.join(missing)}): "
                "apt-get install -y slurm-wlm munge")
    if os.geteuid() != 0:
        return "the local SLURM daemons must run as root"
    return None


def _exe(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(folder: Path, *, cpus: int, mem_mb: int) -> Path:
    """slurm.conf for one node (this host at 127.0.0.1) with ``cpus`` schedulable CPUs."""
    host = socket.gethostname()
    for sub in ("state", "spool"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    conf = folder / "slurm.conf"
    conf.write_text(f"""\
ClusterName=xmrlocal
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
AuthType=auth/munge
AuthInfo=socket={folder}/munge.socket
CredType=cred/munge
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
# no cgroups: works inside containers
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
# finished jobs stay visible to scontrol (no accounting database here)
MinJobAge=3600
# the node may advertise more CPUs than it has (jobs here are small; a sweep's job may
# itself submit shard jobs, which needs free slots while it waits)
SlurmdParameters=config_overrides
MailProg=/bin/true
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN
PartitionName={PARTITION} Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
    return conf


def _env(conf: Path) -> dict:
    return {**os.environ, "SLURM_CONF": str(conf)}


def _wait(what: str, check, timeout: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    tail = ""
    if log is not None and log.exists():
        tail = "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    raise RuntimeError(f"local SLURM: {what} did not come up within {timeout:.0f} s{tail}")


def node_idle(conf: Path) -> bool:
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=_env(conf), capture_output=True,
                         text=True)
    return out.returncode == 0 and out.stdout.strip().rstrip("*") in ("idle", "mixed",
                                                                       "allocated")


def up(folder: str | Path, *, cpus: int = 32, timeout: float = 60.0) -> Path:
    """Start munged, slurmctld and slurmd with their files in ``folder``; return slurm.conf.

    Raises RuntimeError (with the daemon's log tail) when a daemon does not come up, after
    stopping whatever did start.
    """
    reason = missing_reason()
    if reason:
        raise RuntimeError(reason)
    folder = Path(folder).resolve()
    down(folder)  # a previous cluster in the same folder
    folder.mkdir(parents=True, exist_ok=True)
    mem_mb = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.8)
    conf = write_config(folder, cpus=cpus, mem_mb=mem_mb)
    key = folder / "munge.key"
    if not key.exists():
        subprocess.run([_exe("mungekey"), "--create", f"--keyfile={key}"], check=True)
    key.chmod(0o400)
    folder.chmod(0o700)  # munged refuses a key in a folder others can write
    try:
        subprocess.run([_exe("munged"), "--force", f"--key-file={key}",
                        f"--socket={folder}/munge.socket", f"--pid-file={folder}/munged.pid",
                        f"--log-file={folder}/munged.log", f"--seed-file={folder}/munged.seed"],
                       check=True, capture_output=True, text=True)
        subprocess.run([_exe("slurmctld"), "-f", str(conf)], check=True, env=_env(conf))
        subprocess.run([_exe("slurmd"), "-f", str(conf), "-N", socket.gethostname()],
                       check=True, env=_env(conf))
        _wait("the node", lambda: node_idle(conf), timeout, folder / "slurmd.log")
    except BaseException as exc:
        down(folder)
        if isinstance(exc, subprocess.CalledProcessError):
            raise RuntimeError(f"local SLURM: {exc.cmd[0]} failed: {exc.stderr or ''}") from exc
        raise
    return conf


def _pid(folder: Path, daemon: str) -> int | None:
    try:
        return int((folder / f"{daemon}.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def down(folder: str | Path, *, timeout: float = 20.0) -> None:
    """Stop the daemons started by :func:`up` in ``folder`` (by their pid files); idempotent."""
    folder = Path(folder).resolve()
    conf = folder / "slurm.conf"
    if conf.exists() and _pid(folder, "slurmctld"):
        # cancel what is left so no job process outlives the cluster
        subprocess.run(["scancel", "--full", "-p", PARTITION], env=_env(conf),
                       capture_output=True)
    for daemon in DAEMONS:
        pid = _pid(folder, daemon)
        if pid is None or not _alive(pid):
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        (folder / f"{daemon}.pid").unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("up", "down"))
    parser.add_argument("--dir", default=".slurm", help="folder for config, state and logs")
    parser.add_argument("--cpus", type=int, default=32, help="CPUs the node advertises")
    args = parser.parse_args(argv)
    try:
        if args.action == "up":
            conf = up(args.dir, cpus=args.cpus)
            print(f"local SLURM up; use it with:\n  export SLURM_CONF={conf}\n"
                  f"  sinfo; python -m experiments.run -m experiment=smoke "
                  f"hydra/launcher=slurm hydra.launcher.partition={PARTITION}")
        else:
            down(args.dir)
            print("local SLURM down")
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
