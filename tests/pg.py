# SPDX-License-Identifier: GPL-2.0-or-later
"""A throwaway PostgreSQL cluster for tests: the ``pg_cluster`` fixture.

Session-scoped: ``initdb`` in a temporary directory, a server listening
only on a unix socket in that directory (no TCP port to collide with, no
password), stopped and deleted at the end.  Each test takes a fresh
database from it with ``pg_cluster.new_database()``.  Import the fixture
into a test module (``from tests.pg import pg_cluster``).

``initdb`` refuses to run as root, so as root the server runs as the
``postgres`` user (``runuser -u postgres --``) in a directory it owns.
The server binaries come from Debian's ``postgresql`` package, which
``scripts/setup.sh`` installs; without them the fixture fails (it does not
skip: a database the product supports is not optional to test).

``CTI_TEST_PG_URL=postgresql+psycopg://user@host/db`` uses that database
instead (its tables are dropped before each test); tests that need to
stop the server then skip.
"""
import glob
import os
import shutil
import subprocess
import tempfile
import time

import pytest
from sqlalchemy import create_engine, text

SERVER_SETTINGS = (
    "-c listen_addresses='' -c fsync=off -c synchronous_commit=off "
    "-c full_page_writes=off -c max_connections=40"
)


def server_binaries():
    """The bin directory of the newest PostgreSQL server installed, or fail."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not found:
        pytest.fail("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: "
                    "run scripts/setup.sh (it installs the Debian package 'postgresql'), "
                    "or set CTI_TEST_PG_URL to a database to test against", pytrace=False)
    return os.path.dirname(found[-1])


class Cluster:
    """A private PostgreSQL server in ``root``, controlled with pg_ctl."""

    controllable = True

    def __init__(self, root):
        self.root = root
        self.bin = server_binaries()
        self.data = os.path.join(root, "data")
        self.log = os.path.join(root, "server.log")
        self._databases = 0

    def _run(self, tool, *args):
        cmd = [os.path.join(self.bin, tool), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=self.root)
        if done.returncode:
            log = open(self.log).read()[-2000:] if os.path.exists(self.log) else ""
            raise RuntimeError(f"{tool} failed: {done.stdout}{done.stderr}{log}")

    def init(self):
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--locale=C", "--no-sync")

    def start(self):
        opts = f"{SERVER_SETTINGS} -c unix_socket_directories='{self.root}'"
        self._run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "30",
                  "-o", opts, "start")

    def stop(self):
        self._run("pg_ctl", "-D", self.data, "-w", "-m", "fast", "stop")

    def url(self, database="postgres"):
        return f"postgresql+psycopg://postgres@/{database}?host={self.root}"

    def new_database(self):
        """A fresh, empty database; its URL."""
        self._databases += 1
        name = f"cti_test_{os.getpid()}_{self._databases}"
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)


class External:
    """A database named by CTI_TEST_PG_URL: reused, emptied for each test."""

    controllable = False

    def __init__(self, url):
        self._url = url

    def new_database(self):
        engine = create_engine(self._url)
        with engine.begin() as connection:
            for table in ("cdr", "agent_session", "agent_state", "queue_log",
                          "alembic_version"):
                connection.execute(text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()
        return self._url

    def stop(self):
        pytest.skip("CTI_TEST_PG_URL: the test cannot stop that server")

    start = stop


def _make_root():
    root = tempfile.mkdtemp(prefix="cti-pg-")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    return root


@pytest.fixture(scope="session")
def pg_cluster():
    """A running PostgreSQL (ours, or CTI_TEST_PG_URL's): ``.new_database()``."""
    if os.environ.get("CTI_TEST_PG_URL"):
        yield External(os.environ["CTI_TEST_PG_URL"])
        return
    cluster = Cluster(_make_root())
    started = time.monotonic()
    try:
        cluster.init()
        cluster.start()
        print(f"PostgreSQL cluster in {cluster.root}, up in "
              f"{time.monotonic() - started:.1f}s")
        yield cluster
    finally:
        try:
            cluster.stop()
        except RuntimeError:
            pass
        shutil.rmtree(cluster.root, ignore_errors=True)
