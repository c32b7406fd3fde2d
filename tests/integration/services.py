"""Private PostgreSQL and Redis servers for the several-node tests.

Debian's postgresql and redis-server packages (installed by `make test`),
started here in temporary folders on free loopback ports and always stopped:
PostgreSQL with initdb and pg_ctl (as the `postgres` user when the tests run
as root, since initdb refuses root), Redis with `--save ""`.
"""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Postgres:
    def __init__(self):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        assert bins, "initdb not found: install postgresql (make test-deps)"
        self.bin = os.path.dirname(bins[-1])
        self.dir = tempfile.mkdtemp(prefix="smtpsd-pg-")
        self.prefix = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        self.port = free_port()
        self.data = os.path.join(self.dir, "data")
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "smtpsd", "-E", "UTF8", "--locale=C.UTF-8",
                  "--no-sync")
        self.start()

    def _run(self, tool, *args, check=True):
        return subprocess.run([*self.prefix, os.path.join(self.bin, tool), *args], capture_output=True, text=True,
                              timeout=120, check=check)

    def start(self):
        self._run("pg_ctl", "-D", self.data, "-w", "-t", "60", "-l", os.path.join(self.dir, "server.log"), "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
                  "start")

    def stop_server(self, mode="fast"):
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "stop", check=False)

    def restart(self):
        self.stop_server("fast")
        self.start()  # with its log file: a server started without one would hold our stdout pipe

    def url(self, db="postgres"):
        return f"postgresql://smtpsd@127.0.0.1:{self.port}/{db}"

    def sql(self, statement, db="postgres"):
        p = subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", self.url(db), "-c", statement],
                           capture_output=True, text=True, timeout=60, check=True)
        return p.stdout.strip()

    def database(self, name):
        self.sql(f"CREATE DATABASE {name}")
        return self.url(name)

    def close(self):
        self.stop_server("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="smtpsd-redis-")
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(self.ping, 20, "redis-server")

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
