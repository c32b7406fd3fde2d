"""`smtpsd send` and `smtpsd probe` (issue 7) against smtpsd's own listeners,
openssl s_server accepting old TLS, an open relay, and a server that executes
plaintext pipelined behind STARTTLS."""
import json
import os
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import BIN, PASSWORD, read_spool, run_cli, wait_for


def cli(*args, env=None, timeout=60):
    e = dict(os.environ)
    e.pop("SSL_CERT_FILE", None)
    e.update(env or {})
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout, env=e)


def send_args(srv, port_index=0, mode="implicit-tls", *extra):
    pw = srv.root / "pw"
    pw.write_text(PASSWORD + "\n")
    return ["send", "--server", f"127.0.0.1:{srv.ports[port_index]}", "--mode", mode, "--username", "alice",
            "--password-file", str(pw), "--from", "alice@example.com", "--to", "bob@example.org", *extra]


def queued_messages(srv):
    return [read_spool(srv, m["id"]) for m in srv.cli_json("queue", "list")]


def test_send_over_implicit_tls_with_attachments(server, tmp_path):
    msg = tmp_path / "m.txt"
    msg.write_text("Subject: from a file\n\n.a line with a dot\nbye\n")
    att = tmp_path / "report.pdf"
    att.write_bytes(b"%PDF-1.4 \x00\xff binary")
    p = cli(*send_args(server), "--to", "carol@example.org", "--attach", str(att), "-v", str(msg),
            env={"SSL_CERT_FILE": server.cert})
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("250 2.0.0 Ok: queued as ")
    assert "C: AUTH … (redacted)" in p.stderr and PASSWORD not in p.stderr
    assert "C: RCPT TO:<carol@example.org>" in p.stderr
    data = queued_messages(server)[0]
    assert b"Subject: from a file\r\n" in data and b"To: bob@example.org, carol@example.org\r\n" in data
    assert b"\r\n.a line with a dot\r\n" in data, "dot-stuffed on the wire, unstuffed in the queue"
    assert b"Content-Type: multipart/mixed;" in data
    assert b'Content-Disposition: attachment; filename="report.pdf"' in data
    assert b"Content-Type: application/pdf" in data


def test_send_verifies_the_certificate_unless_insecure(server):
    p = cli(*send_args(server))
    assert p.returncode == 1
    assert "does not verify" in p.stderr and "--insecure" in p.stderr
    assert p.stderr.count("\n") == 1, "one sentence"
    p = cli(*send_args(server), "--insecure")
    assert p.returncode == 0, p.stderr


def test_send_over_starttls_and_refusals(server):
    p = cli(*send_args(server, 1, "starttls"), "--subject", "via STARTTLS", env={"SSL_CERT_FILE": server.cert})
    assert p.returncode == 0, p.stderr
    bad = server.root / "bad"
    bad.write_text("wrong\n")
    args = send_args(server, 1, "starttls")
    args[args.index("--password-file") + 1] = str(bad)
    p = cli(*args, env={"SSL_CERT_FILE": server.cert})
    assert p.returncode == 1 and "AUTH failed: 535 5.7.8" in p.stderr
    args = send_args(server, 0, "implicit-tls")
    args[args.index("--from") + 1] = "eve@evil.test"
    p = cli(*args, env={"SSL_CERT_FILE": server.cert})
    assert p.returncode == 1 and p.stderr.startswith("smtpsd: 550 5.7.1")


class Silent:
    """A TCP port that accepts and never says anything (or answers like HTTP)."""

    def __init__(self, http=False):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.http = http
        self.stop = False
        self.conns = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(c)
            if self.http:
                threading.Thread(target=self._http, args=(c,), daemon=True).start()

    def _http(self, c):
        try:
            c.settimeout(10)
            if c.recv(4096):
                c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        except OSError:
            pass
        c.close()

    def close(self):
        self.stop = True
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.mark.parametrize("case", ["refused", "silent", "http_starttls", "http_tls"])
def test_send_fails_with_one_sentence_never_a_hang(case):
    srv = None if case == "refused" else Silent(http=case.startswith("http"))
    port = srv.port if srv else 1
    mode = "implicit-tls" if case == "http_tls" else "starttls"
    started = time.monotonic()
    p = cli("send", "--server", f"127.0.0.1:{port}", "--mode", mode, "--from", "a@example.com", "--to", "b@example.org",
            "--timeout", "2", timeout=30)
    if srv:
        srv.close()
    assert time.monotonic() - started < 10
    assert p.returncode == 1
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    expected = {"refused": "Connection refused", "silent": "sent no SMTP greeting within 2 s",
                "http_starttls": "sent no SMTP greeting", "http_tls": "TLS with 127.0.0.1"}[case]
    assert expected in lines[0], lines[0]


def probe(*args, env=None):
    p = cli("probe", *args, "--json", "--timeout", "3", env=env, timeout=120)
    return p.returncode, json.loads(p.stdout) if p.stdout.strip() else None, p.stderr


def auth_after(r):
    """What smtpsd offers after TLS: -PLUS only where tls-exporter binds (TLS 1.3)."""
    plus = ["SCRAM-SHA-256-PLUS"] if r["tls"]["version"] == "TLSv1.3" else []
    return ["PLAIN", "LOGIN", "SCRAM-SHA-256"] + plus


def test_probe_smtpsd_implicit_tls_and_starttls(server):
    code, r, err = probe(f"127.0.0.1:{server.ports[0]}", env={"SSL_CERT_FILE": server.cert})
    assert code == 0, (r, err)
    assert r["mode"] == "implicit-tls" and r["warnings"] == []
    assert r["banner"].startswith("220 ")
    assert r["tls"]["version"] in ("TLSv1.3", "TLSv1.2") and r["tls"]["resumption"] is True
    assert r["tls"]["valid_for_host"] is True
    cert = r["tls"]["certificates"][0]
    assert "127.0.0.1" in cert["names"] and cert["key_type"] == "EC" and cert["key_bits"] == 256
    assert cert["days_left"] > 3000
    assert r["ehlo"]["auth"] == auth_after(r) and r["ehlo"]["size"] == 41943040

    code, r, err = probe(f"127.0.0.1:{server.ports[1]}", env={"SSL_CERT_FILE": server.cert})
    assert code == 0, (r, err)
    assert r["mode"] == "starttls" and r["warnings"] == []
    assert r["ehlo_before_tls"]["auth"] == [], "no AUTH before TLS"
    assert "STARTTLS" in r["ehlo_before_tls"]["extensions"]
    assert r["ehlo"]["auth"] == auth_after(r)

    code, r, err = probe(f"127.0.0.1:{server.ports[1]}")
    assert code == 1 and any("not valid for 127.0.0.1" in w for w in r["warnings"]), "self-signed without the CA"


def start_old_tls_server(server):
    """openssl s_server accepting TLS 1.0 on a free port. The port is chosen
    before s_server binds it and a parallel test may take it first: then
    s_server exits and we try another."""
    for _ in range(10):
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            port = free.getsockname()[1]
        s = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", server.cert,
                              "-key", str(server.root / "tls" / "key.pem"), "-cipher", "ALL:@SECLEVEL=0",
                              "-min_protocol", "TLSv1", "-quiet"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def listening_or_gone():
            if s.poll() is not None:
                return "gone"
            with socket.socket() as c:
                return "up" if c.connect_ex(("127.0.0.1", port)) == 0 and s.poll() is None else None
        if wait_for(listening_or_gone, 10, what="openssl s_server") == "up":
            return s, port
    raise AssertionError("openssl s_server never got a free port")


def test_probe_warns_about_old_tls(server, tmp_path):
    s, port = start_old_tls_server(server)
    try:
        code, r, err = probe(f"127.0.0.1:{port}", "--mode", "implicit-tls")
        assert code == 1
        assert any(w.startswith("TLSv1") and "accepted" in w for w in r["warnings"]), r["warnings"]
    finally:
        s.terminate()
        s.wait(10)


def test_probe_finds_an_open_relay(sink_factory):
    sink = sink_factory()
    code, r, err = probe(f"127.0.0.1:{sink.port}")
    assert code == 1
    assert r["mode"] == "plain"
    assert any(w.startswith("open relay") for w in r["warnings"])
    assert sink.received() == [], "never sends data"


class InjectableServer:
    """Executes whatever was pipelined behind STARTTLS inside TLS (CVE-2011-0411)."""

    def __init__(self, cert, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._one, args=(c,), daemon=True).start()

    def _one(self, c):
        c.settimeout(10)
        buf = b""
        tls = False
        try:
            c.sendall(b"220 vulnerable ESMTP\r\n")
            while True:
                while b"\r\n" not in buf:
                    data = c.recv(4096)
                    if not data:
                        return
                    buf += data
                line, buf = buf.split(b"\r\n", 1)
                cmd = line.upper()
                if cmd.startswith(b"EHLO"):
                    c.sendall(b"250-vulnerable\r\n250-PIPELINING\r\n250 " + (b"AUTH PLAIN" if tls else b"STARTTLS") + b"\r\n")
                elif cmd == b"STARTTLS":
                    c.sendall(b"220 go ahead\r\n")
                    c = self.ctx.wrap_socket(c, server_side=True)
                    tls = True  # and buf, read in plaintext, is still processed: the bug
                elif cmd == b"HELP":
                    c.sendall(b"214 no help\r\n")
                elif cmd == b"QUIT":
                    c.sendall(b"221 bye\r\n")
                    return
                elif cmd.startswith(b"MAIL") or cmd.startswith(b"RCPT"):
                    c.sendall(b"550 5.7.1 no\r\n")
                else:
                    c.sendall(b"250 ok\r\n")
        except (OSError, ssl.SSLError):
            pass
        finally:
            c.close()

    def close(self):
        self.stop = True
        self.sock.close()


def test_probe_detects_starttls_command_injection(server):
    vuln = InjectableServer(server.cert, str(server.root / "tls" / "key.pem"))
    try:
        code, r, err = probe(f"127.0.0.1:{vuln.port}", env={"SSL_CERT_FILE": server.cert})
        assert r["mode"] == "starttls"
        assert any("CVE-2011-0411" in w for w in r["warnings"]), r["warnings"]
        assert code == 1
    finally:
        vuln.close()
    code, r, err = probe(f"127.0.0.1:{server.ports[1]}", env={"SSL_CERT_FILE": server.cert})
    assert not any("CVE-2011-0411" in w for w in r["warnings"]), "smtpsd drops what was pipelined"


def test_probe_cannot_connect_and_non_smtp():
    code, r, err = probe("127.0.0.1:1")
    assert code == 2 and r["mode"] == "closed" and "Connection refused" in err
    http = Silent(http=True)
    try:
        started = time.monotonic()
        code, r, err = probe(f"127.0.0.1:{http.port}")
        assert code == 1 and r["mode"] == "unknown"
        assert "no SMTP greeting" in err or "does not speak SMTP" in err
        assert time.monotonic() - started < 20
    finally:
        http.close()


def test_probe_scan_prints_one_line_per_mail_port(server):
    p = cli("probe", "127.0.0.1", "--scan", "--timeout", "2", timeout=120)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert [l.split()[0] for l in lines[1:]] == ["25", "465", "587", "2465", "2525", "2587"]
    p = cli("probe", "127.0.0.1", "--scan", "--timeout", "2", "--json", timeout=120)
    rows = json.loads(p.stdout)
    assert [r["port"] for r in rows] == [25, 465, 587, 2465, 2525, 2587]
    assert all(r["mode"] in ("closed", "implicit-tls", "starttls", "plain", "unknown") for r in rows)
