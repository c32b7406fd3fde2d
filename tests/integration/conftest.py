"""Integration fixtures: a real `smtpsd serve` in a temporary folder.

Listeners bind port 0; the ports come from the server's JSON log. Every wait
is a poll with a deadline; every process started here is stopped by its PID.
"""
import atexit
import base64
import json
import os
import re
import signal
import smtplib
import socket
import ssl
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("SMTPSD_BIN", str(ROOT / "build" / "debug" / "src" / "smtpsd"))
PASSWORD = "correct horse battery staple"


def wait_for(predicate, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def run_cli(*args, config=None, input=None, check=True):
    cmd = [BIN, *args]
    if config:
        cmd += ["-c", str(config)]
    p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} failed ({p.returncode}): {p.stderr}")
    return p


def read_spool(srv, qid):
    """A queued message as it will leave (header section, blank line, body),
    read from the spool by `smtpsd queue show ID --raw`."""
    cmd = [BIN, "queue", "show", qid, "--raw", "-c", str(srv.config)]
    p = subprocess.run(cmd, capture_output=True, timeout=60)
    assert p.returncode == 0, f"{cmd} failed ({p.returncode}): {p.stderr!r}"
    return p.stdout


class Server:
    def __init__(self, root, config_text, name="smtpsd"):
        self.root = Path(root)
        self.config = self.root / "smtpsd.toml"
        self.config.write_text(config_text)
        self.log_path = self.root / f"{name}.log"
        self.proc = None
        self.ports = []  # in listener order
        self.admin_port = None
        self.env = None  # the environment `serve` runs with (None: this process's)

    def start(self, expect_ready=True, timeout=20):
        self._log = open(self.log_path, "ab")
        start_offset = self.log_path.stat().st_size
        self.proc = subprocess.Popen([BIN, "serve", "-c", str(self.config)], stdout=self._log, stderr=self._log,
                                     env=self.env)
        if not expect_ready:
            return self
        self.ports = []

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"smtpsd exited with {self.proc.returncode}:\n{self.log_path.read_text()}")
            text = self.log_path.read_bytes()[start_offset:].decode(errors="replace")
            if '"ready:' not in text:
                return False
            self.ports = [int(m) for m in re.findall(r'"msg":"listening on \S+:(\d+) mode=', text)]
            admin = re.search(r'"msg":"admin listening on \S+:(\d+)"', text)
            self.admin_port = int(admin.group(1)) if admin else None
            return True

        wait_for(ready, timeout, what="smtpsd to be ready")
        return self

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("smtpsd did not stop in time")
        if self.proc:
            self._log.close()
        return self.proc.returncode if self.proc else None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            self._log.close()

    def log(self):
        return self.log_path.read_text(errors="replace")

    def log_events(self):
        out = []
        for line in self.log().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def cli(self, *args, input=None, check=True):
        return run_cli(*args, config=self.config, input=input, check=check)

    def cli_json(self, *args, input=None):
        return json.loads(self.cli(*args, "--json", input=input).stdout)

    @property
    def cert(self):
        return str(self.root / "tls" / "cert.pem")

    def tls_context(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        return ctx

    def smtp_ssl(self, port_index=0, **kw):
        return smtplib.SMTP_SSL("127.0.0.1", self.ports[port_index], context=self.tls_context(), timeout=30, **kw)

    def smtp_starttls(self, port_index=1, login=None):
        s = smtplib.SMTP("127.0.0.1", self.ports[port_index], timeout=30)
        s.ehlo("client.example")
        s.starttls(context=self.tls_context())
        s.ehlo("client.example")
        if login:
            s.login(*login)
        return s

    def raw(self, port_index=0, tls=True):
        """A raw line-level client for what smtplib will not send."""
        return RawClient("127.0.0.1", self.ports[port_index], self.tls_context() if tls else None)

    def spool_count(self):
        """Message bodies the server holds in its spool (its own count, /metrics)."""
        return int(metrics(self)["smtpsd_spool_messages"])


class RawClient:
    def __init__(self, host, port, tls_context=None, timeout=20):
        sock = socket.create_connection((host, port), timeout=timeout)
        self.sock = tls_context.wrap_socket(sock, server_hostname="localhost") if tls_context else sock
        self.buf = b""

    def starttls(self, ctx):
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed; buffered {self.buf!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode(errors="replace")

    def reply(self):
        """One whole (possibly multi-line) reply, as a list of lines."""
        lines = [self.line()]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self.line())
        return lines

    def code(self):
        return int(self.reply()[-1][:3])

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def closed(self, timeout=10):
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionError, ssl.SSLError, OSError):
            return True

    def login(self, user, password):
        self.cmd("EHLO client.example")
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return self.cmd(f"AUTH PLAIN {token}")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def config_text(extra="", limits="", listeners=None, auth="", delivery="enabled = false\n"):
    listeners = listeners or [("127.0.0.1:0", "implicit-tls"), ("127.0.0.1:0", "starttls")]
    text = 'hostname = "mail.test"\ndata_dir = "data"\n'
    if os.geteuid() == 0:
        text += "allow_root = true\n"  # the refusal itself is tested in test_privileges.py
    # Two I/O threads, whatever the machine: sessions on different threads
    # stay tested (the default leaves one core to the committer, and CI has two).
    text += "threads = 2\n"
    text += '[tls]\ncertificates = [ { cert = "tls/cert.pem", key = "tls/key.pem" } ]\n'
    for addr, mode, *rest in listeners:
        text += f'[[listeners]]\naddress = "{addr}"\nmode = "{mode}"\n'
        if rest:
            text += rest[0]
    text += "[limits]\n" + limits
    text += "[auth]\n" + auth
    text += "[delivery]\n" + delivery
    text += '[admin]\nlisten = "127.0.0.1:0"\n'
    text += '[log]\nlevel = "debug"\n'
    text += extra
    return text


_made = {}  # config text -> a folder made by the CLI with it, copied for each server of this pytest run


def make_server(tmp_path, name="smtpsd", **kw):
    """A server folder as `init`, `account add`, `identity add` and `credential
    add` leave it. The CLI makes it once per configuration and pytest run, and
    each server gets a copy: the RSA key of `identity add` and the Argon2id
    hash of `credential add` had been up to half of a test file's CPU."""
    text = config_text(**kw)
    made = _made.get(text)
    if made is None:
        made = Path(tempfile.mkdtemp(prefix="smtpsd-made-")) / "root"
        atexit.register(shutil.rmtree, made.parent, True)
        run_cli("init", str(made), "--hostname", "localhost")
        first = Server(made, text)
        first.cli("account", "add", "acme")
        first.cli("identity", "add", "acme", "example.com")
        first.cli("credential", "add", "acme", "--username", "alice", "--password-stdin", input=PASSWORD + "\n")
        _made[text] = made
    root = tmp_path / name
    shutil.copytree(made, root)
    return Server(root, text, name=name)


@pytest.fixture
def server_factory(tmp_path):
    started = []

    def factory(name="smtpsd", start=True, **kw):
        srv = make_server(tmp_path, name=name, **kw)
        started.append(srv)
        if start:
            srv.start()
        return srv

    yield factory
    for srv in started:
        srv.kill()


@pytest.fixture
def server(server_factory):
    return server_factory()


def raw_in_data(srv, rcpt="bob@example.org"):
    """A raw client logged in on the implicit-TLS port, inside DATA."""
    c = srv.raw()
    c.line()
    c.login("alice", PASSWORD)
    c.cmd("MAIL FROM:<alice@example.com>")
    c.cmd(f"RCPT TO:<{rcpt}>")
    reply = c.cmd("DATA")
    assert reply[0].startswith("354"), reply
    return c


def metrics(srv):
    """The server's /metrics as {name{labels}: value}."""
    import urllib.request
    text = urllib.request.urlopen(f"http://127.0.0.1:{srv.admin_port}/metrics", timeout=10).read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


@pytest.fixture
def sink_factory():
    from sink import Sink
    sinks = []

    def factory(**kw):
        s = Sink(**kw)
        sinks.append(s)
        return s

    yield factory
    for s in sinks:
        s.close()


def free_dns_port():
    """A port free for both UDP and TCP on 127.0.0.1 right now (dnsmasq binds
    both); another process may still take it before dnsmasq does, so the
    caller retries."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port


class Dnsmasq:
    """dnsmasq (Debian's dnsmasq-base) answering on a high port with only the
    records a test gives it."""

    def __init__(self, tmp_path, records):
        self.log_path = tmp_path / "dnsmasq.log"
        records = records + ["--host-record=ready.smtpsd.test,127.0.0.1"]
        # Tests run in parallel and bind port 0 everywhere: the chosen port can
        # be taken between the check and dnsmasq's bind. Retry with another.
        for attempt in range(10):
            self.port = free_dns_port()
            args = ["dnsmasq", "--keep-in-foreground", f"--port={self.port}", "--listen-address=127.0.0.1",
                    "--bind-interfaces", "--no-resolv", "--no-hosts", "--pid-file=", "--log-facility=-",
                    "--log-queries", "--conf-file=/dev/null"]
            if os.geteuid() == 0:
                args.append("--user=root")
            self._log = open(self.log_path, "wb")
            self.proc = subprocess.Popen(args + records, stdout=self._log, stderr=self._log)
            try:
                wait_for(self._answers, 10, what="dnsmasq to answer")
                return
            except AssertionError:
                if "Address already in use" not in self.log_path.read_text() or attempt == 9:
                    raise
                self.proc.wait(10)
                self._log.close()

    def _answers(self):
        if self.proc.poll() is not None:
            raise AssertionError("dnsmasq exited: " + self.log_path.read_text())
        import dns.resolver
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = ["127.0.0.1"]
        r.port = self.port
        r.lifetime = 0.5
        try:
            r.resolve("ready.smtpsd.test", "A")
        except Exception:
            return False
        return True

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self._log.close()


@pytest.fixture
def dnsmasq_factory(tmp_path):
    started = []

    def factory(records):
        d = Dnsmasq(tmp_path, records)
        started.append(d)
        return d

    yield factory
    for d in started:
        d.stop()


@pytest.fixture(scope="module")
def postgres():
    """One private PostgreSQL for a test file; each test makes its own database."""
    from services import Postgres
    pg = Postgres()
    yield pg
    pg.close()


@pytest.fixture
def redis():
    from services import Redis
    r = Redis()
    yield r
    r.close()
