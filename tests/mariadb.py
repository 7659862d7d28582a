"""Find, or start, the MariaDB server the integration tests use.

TEST_DATABASE_URL (default mysql+pymysql://root@127.0.0.1:3306/test) names the
server. When nothing answers there and the ``mariadbd`` binary exists, a
throwaway server is started in a temporary directory for the test session.
Otherwise the tests fail with a message that says how to provide one."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_URL = "mysql+pymysql://root@127.0.0.1:3306/test"


def _answers(url: str) -> bool:
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not usable"
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _find(binary: str) -> str | None:
    return shutil.which(binary) or next(
        (str(p) for p in (Path("/usr/sbin") / binary, Path("/usr/bin") / binary) if p.exists()), None
    )


def _start_throwaway() -> str:
    mariadbd, install = _find("mariadbd"), _find("mariadb-install-db")
    if not mariadbd or not install:
        raise RuntimeError(
            "No MariaDB/MySQL server answers at TEST_DATABASE_URL "
            f"({os.environ.get('TEST_DATABASE_URL', DEFAULT_URL)}) and no mariadbd binary was found to start one. "
            "Install MariaDB (apt-get install mariadb-server) or point TEST_DATABASE_URL at a server "
            "(mysql+pymysql://user:pass@host:port/db)."
        )
    base = Path(tempfile.mkdtemp(prefix="csv-dmap-mariadb-"))
    datadir, sock, port = base / "data", base / "mysqld.sock", _free_port()
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(
        [
            install,
            "--no-defaults",
            f"--datadir={datadir}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *user,
        ],
        check=True,
        capture_output=True,
    )
    error_log = open(base / "error.log", "wb")  # noqa: SIM115 - mariadbd writes to it for its whole life; stop() closes it
    proc = subprocess.Popen(
        [
            mariadbd,
            "--no-defaults",
            f"--datadir={datadir}",
            f"--socket={sock}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            "--skip-name-resolve",
            f"--pid-file={base / 'mysqld.pid'}",
            *user,
        ],
        stdout=subprocess.DEVNULL,
        stderr=error_log,
    )

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        error_log.close()
        shutil.rmtree(base, ignore_errors=True)

    atexit.register(stop)
    url = f"mysql+pymysql://root@127.0.0.1:{port}/mysql"
    for _ in range(120):
        if _answers(url):
            with create_engine(url).begin() as conn:
                conn.execute(text("CREATE DATABASE IF NOT EXISTS test"))
            return f"mysql+pymysql://root@127.0.0.1:{port}/test"
        if proc.poll() is not None:
            raise RuntimeError(f"throwaway mariadbd exited: {(base / 'error.log').read_text()[-2000:]}")
        time.sleep(0.5)
    raise RuntimeError("throwaway mariadbd did not answer within 60 s")


def server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_URL)
    return url if _answers(url) else _start_throwaway()


def database_url(server: str, name: str) -> str:
    """A fresh database ``name`` on the server (dropped and re-created)."""
    engine = create_engine(server)
    with engine.begin() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    engine.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def drop_database(server: str, name: str) -> None:
    engine = create_engine(server)
    with engine.begin() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    engine.dispose()
