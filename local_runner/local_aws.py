"""S3 and DynamoDB of the local run, served by processes that keep their data on disk, so that
the runner's memory does not grow with the rows (moto keeps every object and item as Python
objects: ~5-8 KB a row). Both are Node programs that ``npm ci`` installs from package.json:

- **DynamoDB: dynalite** (Apache-2.0), DynamoDB's API on LevelDB, in ``.local/dynamodb``. The
  audit table lives there across runs, as the SQLite database does, until ``make clean-local``.
  LevelDB admits one process per directory, so every local run of the checkout shares one
  server: the first run starts it, later runs use it, the last run to end stops it. Each run
  holds a lease (a locked file under ``clients/``); ``server.json`` says where the server
  listens; ``server.lock`` serialises starting, joining and stopping. A run killed outright
  leaves a lease nobody holds: the next run to end sees it is free and counts it as gone.
- **S3: s3rver** (MIT), objects as files, in a directory of its own for each run (under
  ``.local/s3``), removed when the run ends: S3 is per run, as moto's was; what a run leaves
  for later is copied to ``.local/data`` (``local_runner.localdata``).

Measured against moto and DynamoDB Local: BENCHMARKS.md ("The audit table's stand-in").
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from asl_runner.cli import CannotRun

from .template import ROOT, local_root

NODE_MODULES = ROOT / "node_modules"
DYNALITE = NODE_MODULES / "dynalite" / "cli.js"
S3RVER = NODE_MODULES / "s3rver" / "bin" / "s3rver.js"
DYNAMODB_ENV = "CSV_DMAP_LOCAL_DYNAMODB"  # where the audit table lives (default .local/dynamodb)
S3_ENV = "CSV_DMAP_LOCAL_S3"  # where each run's S3 directory is made (default .local/s3)
# s3rver accepts only its own key pair; the other stand-ins accept any.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER"}
START_SECONDS = 60.0


class StandInFailed(CannotRun):
    """A stand-in that could not be started (one line, never a traceback)."""


def dynamodb_dir() -> Path:
    return Path(os.environ.get(DYNAMODB_ENV) or local_root() / "dynamodb")


def s3_root() -> Path:
    return Path(os.environ.get(S3_ENV) or local_root() / "s3")


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise StandInFailed("node is not installed: the local run serves S3 and DynamoDB with Node programs")
    return node


def _script(path: Path) -> str:
    if not path.is_file():
        raise StandInFailed(f"{path.relative_to(ROOT)} is missing: run `make install` (npm ci installs it)")
    return str(path)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def peak_rss_mib(pid: int) -> float | None:
    """Peak resident memory (VmHWM) of a process, in MiB; None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far, in seconds; None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)


def _start(argv: list[str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start a server in a session of its own (a Ctrl-C of one run must not stop a server other
    runs use) and wait until it accepts connections."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise StandInFailed(f"{Path(argv[1]).parent.name} exited at start ({proc.returncode}): {tail[0][:300]}")
        if _answers(port):
            return proc
        time.sleep(0.05)
    proc.kill()
    raise StandInFailed(f"{argv[1]} did not listen on port {port} within {START_SECONDS:g} s (log: {log})")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@dataclass(frozen=True)
class _Server:
    pid: int
    port: int
    path: str

    def serves(self, path: Path) -> bool:
        """Is this process still the dynalite of ``path``, listening?"""
        try:
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return str(DYNALITE).encode() in cmdline and self.path == str(path) and _answers(self.port)


class SharedDynamoDB:
    """The audit table's server for one run: ``attach()`` joins (or starts) the checkout's dynalite
    and returns its endpoint, ``detach()`` leaves it (and stops it when no other run uses it)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = (directory or dynamodb_dir()).resolve()
        self.store = self.directory / "leveldb"
        self._lease: IO[str] | None = None
        self._lease_path: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None  # when this run started the server
        self.server: _Server | None = None

    @property
    def endpoint(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}"

    def attach(self) -> str:
        clients = self.directory / "clients"
        clients.mkdir(parents=True, exist_ok=True)
        with _locked(self.directory / "server.lock"):
            server = self._running()
            if server is None:
                server = self._start()
            self._lease_path = clients / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
            self._lease = open(self._lease_path, "w")  # noqa: SIM115 - held until detach()
            fcntl.flock(self._lease, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.server = server
        return self.endpoint

    def detach(self) -> None:
        if self._lease is None:
            return
        with _locked(self.directory / "server.lock"):
            self._lease.close()
            if self._lease_path is not None:
                self._lease_path.unlink(missing_ok=True)
            self._lease = self._lease_path = None
            if not self._others() and self.server is not None and self.server.serves(self.store):
                if self._proc is not None and self._proc.pid == self.server.pid:
                    _stop(self._proc)
                else:
                    _terminate(self.server.pid)
                (self.directory / "server.json").unlink(missing_ok=True)
        self.server = self._proc = None

    def _running(self) -> _Server | None:
        try:
            info = json.loads((self.directory / "server.json").read_text(encoding="utf-8"))
            server = _Server(pid=int(info["pid"]), port=int(info["port"]), path=str(info["path"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return server if server.serves(self.store) else None

    def _start(self) -> _Server:
        self.store.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        argv = [_node(), _script(DYNALITE), "--host", "127.0.0.1", "--port", str(port), "--path", str(self.store)]
        # tables are ACTIVE at once (DynamoDB takes seconds; nothing here waits on it)
        argv += ["--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"]
        proc = self._proc = _start(argv, port, self.directory / "dynalite.log")
        server = _Server(pid=proc.pid, port=port, path=str(self.store))
        _write_json(self.directory / "server.json", {"pid": proc.pid, "port": port, "path": str(self.store)})
        return server

    def _others(self) -> bool:
        """Does another live run hold a lease? (A lease nobody holds is a run that was killed.)"""
        alive = False
        for lease in (self.directory / "clients").iterdir():
            with open(lease, "a") as fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    alive = True
                    continue
                lease.unlink(missing_ok=True)
        return alive


def _terminate(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    for _ in range(300):
        with contextlib.suppress(ChildProcessError):  # this process started it: collect its exit
            os.waitpid(pid, os.WNOHANG)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def stop_dynamodb(directory: Path | None = None) -> bool:
    """Stop the checkout's dynalite whoever started it (``make clean-local``); True if one ran."""
    store = SharedDynamoDB(directory)
    if not store.directory.is_dir():
        return False
    with _locked(store.directory / "server.lock"):
        server = store._running()
        if server is not None:
            _terminate(server.pid)
        (store.directory / "server.json").unlink(missing_ok=True)
    return server is not None


class RunS3:
    """s3rver over a directory of its own, for one run."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or s3_root()
        self.directory: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        self.directory = Path(tempfile.mkdtemp(prefix=f"run-{os.getpid()}-", dir=self.root))
        self.port = _free_port()
        argv = [_node(), _script(S3RVER), "--directory", str(self.directory / "objects")]
        argv += ["--address", "127.0.0.1", "--port", str(self.port), "--silent", "--no-vhost-buckets"]
        (self.directory / "objects").mkdir()
        self.proc = _start(argv, self.port, self.directory / "s3rver.log")
        return self.endpoint

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None


def _write_json(path: Path, body: object) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(body), encoding="utf-8")
    tmp.replace(path)


def _shape(definition: dict[str, Any]) -> dict[str, Any]:
    """What must match for a kept table to serve the template's: keys and indexes."""
    indexes = {
        g["IndexName"]: (sorted((k["AttributeName"], k["KeyType"]) for k in g["KeySchema"]), g["Projection"])
        for g in definition.get("GlobalSecondaryIndexes") or []
    }
    projection = {
        name: (keys, {"ProjectionType": p["ProjectionType"], "NonKeyAttributes": sorted(p.get("NonKeyAttributes", []))})
        for name, (keys, p) in indexes.items()
    }
    return {"keys": sorted((k["AttributeName"], k["KeyType"]) for k in definition["KeySchema"]), "indexes": projection}


def ensure_table(client: Any, definition: dict[str, Any]) -> None:
    """Create the table, or keep the one earlier runs left when it has the same keys and indexes;
    a kept table of another shape (the template changed) is a one-line error naming the fix."""
    from botocore.exceptions import ClientError

    name = definition["TableName"]
    try:
        described = client.describe_table(TableName=name)["Table"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        client.create_table(**definition)
        return
    if _shape(described) != _shape(definition):
        raise StandInFailed(
            f"the local table {name} in {dynamodb_dir()} has other keys or indexes than template.yaml's: "
            "`make clean-local` resets the local audit log (and the local database and data)"
        )
