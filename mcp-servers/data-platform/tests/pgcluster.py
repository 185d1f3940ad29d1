"""A throwaway PostgreSQL + PostGIS cluster for the test suite (no mocks).

`start_cluster()` runs initdb/pg_ctl from the Debian server packages in a temp
folder on a free loopback port, with a password for the test user so the suite
can prove the password never leaks. As root, the cluster runs as the `postgres`
user (initdb refuses root). A missing server or PostGIS raises: never a skip.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

TEST_DB = "dp_test"
TEST_USER = "dp_user"


class ClusterSetupError(RuntimeError):
    """PostgreSQL or PostGIS is missing: the suite must fail, not skip."""


def _bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    for c in reversed(candidates):
        if (Path(c) / "initdb").exists():
            return Path(c)
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise ClusterSetupError(
        "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb). "
        "Run scripts/setup-test.sh, or set DATA_PLATFORM_TEST_POSTGRES_URL to an existing database."
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    url: str
    password: str
    host: str
    port: int
    dbname: str
    user: str
    data_dir: Path | None = None
    bin_dir: Path | None = None
    run_as: str | None = None

    @property
    def managed(self) -> bool:
        return self.data_dir is not None

    def _ctl(self, *args: str) -> None:
        assert self.bin_dir and self.data_dir
        cmd = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-w", "-t", "60", *args]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, text=True)

    def start(self) -> None:
        self._ctl("-l", str(self.data_dir / "server.log"), "-o", f"-p {self.port}", "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "stop")

    def env(self) -> dict[str, str]:
        return {"POSTGRES_URL": self.url}


def start_cluster() -> Cluster:
    """Start a new cluster with PostGIS and a password-protected test user."""
    bin_dir = _bin_dir()
    run_as = "postgres" if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="dp-pg-"))
    data = base / "data"
    sock = base / "sock"
    sock.mkdir()
    superpw = secrets.token_hex(8)
    pwfile = base / "pw"
    pwfile.write_text(superpw)
    if run_as:
        uid = pwd.getpwnam(run_as).pw_uid
        gid = pwd.getpwnam(run_as).pw_gid
        for p in (base, sock, pwfile):
            os.chown(p, uid, gid)
    initdb = [
        str(bin_dir / "initdb"),
        "-D",
        str(data),
        "-U",
        "postgres",
        "--pwfile",
        str(pwfile),
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
    ]
    if run_as:
        initdb = ["runuser", "-u", run_as, "--", *initdb]
    res = subprocess.run(initdb, capture_output=True, text=True)
    if res.returncode != 0:
        raise ClusterSetupError(f"initdb failed: {res.stderr.strip()[-500:]}")
    port = _free_port()
    conf = data / "postgresql.conf"
    with conf.open("a") as f:
        f.write(
            f"\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{sock}'\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 100\n"
            "shared_buffers = 128MB\n"
            # The doctor's top queries read pg_stat_statements, which must be preloaded.
            "shared_preload_libraries = 'pg_stat_statements'\n"
        )
    password = "pw-" + secrets.token_hex(12)
    cluster = Cluster(
        url=f"postgresql://{TEST_USER}:{password}@127.0.0.1:{port}/{TEST_DB}",
        password=password,
        host="127.0.0.1",
        port=port,
        dbname=TEST_DB,
        user=TEST_USER,
        data_dir=data,
        bin_dir=bin_dir,
        run_as=run_as,
    )
    cluster.start()
    admin = f"postgresql://postgres:{superpw}@127.0.0.1:{port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {TEST_USER} LOGIN SUPERUSER PASSWORD '{password}'")
        conn.execute(f"CREATE DATABASE {TEST_DB} OWNER {TEST_USER}")
    ensure_postgis(cluster.url)
    return cluster


def ensure_postgis(url: str) -> None:
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg.Error as exc:
        raise ClusterSetupError(
            f"PostGIS is not available: {exc}. Install postgresql-<major>-postgis-3 "
            "(scripts/setup-test.sh does)."
        ) from exc


def from_env(url: str) -> Cluster:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    ensure_postgis(url)
    return Cluster(
        url=url,
        password=parts.password or "",
        host=parts.hostname or "localhost",
        port=parts.port or 5432,
        dbname=parts.path.lstrip("/"),
        user=parts.username or "",
    )


def destroy(cluster: Cluster) -> None:
    if not cluster.managed:
        return
    with contextlib.suppress(subprocess.CalledProcessError):
        cluster.stop("immediate")
    assert cluster.data_dir is not None
    shutil.rmtree(cluster.data_dir.parent, ignore_errors=True)
