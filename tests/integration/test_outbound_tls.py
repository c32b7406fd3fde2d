"""Outbound TLS policy (issue 17): DANE through a DNSSEC-signed zone served by
NSD (signed with ldns-signzone, validated by smtpsd's own libunbound with the
zone's key as trust anchor) and MTA-STS policies fetched over HTTPS from a
server with a test CA (SSL_CERT_FILE), against aiosmtpd sinks with good,
wrong-name and missing TLS."""
import datetime
import hashlib
import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import PASSWORD, free_dns_port, metrics, wait_for
from test_delivery import events, queue, submit

ZONE = "dane.test"


class Pki:
    """A test CA and certificates it signs, written as PEM files."""

    def __init__(self, folder):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtpsd test CA")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.ca_file = folder / "ca.pem"
        self.ca_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, dns_name, self_signed=False):
        """(cert file, key file, SHA-256 of the SubjectPublicKeyInfo) for dns_name."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)])
        b = (x509.CertificateBuilder().subject_name(subject)
             .issuer_name(subject if self_signed else self.cert.subject)
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
             .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False))
        cert = b.sign(key if self_signed else self.key, hashes.SHA256())
        stem = self.folder / f"{dns_name}{'-self' if self_signed else ''}"
        cert_file, key_file = stem.with_suffix(".crt"), stem.with_suffix(".key")
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
        return cert_file, key_file, hashlib.sha256(spki).hexdigest()

    def server_context(self, cert_file, key_file):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert_file, key_file)
        return ctx


class SignedZone:
    """dane.test signed with ldns-signzone and served by NSD on a free loopback
    port; `anchor` is the zone's DNSKEY, smtpsd's trust anchor. `corrupt`
    names owners whose record data is changed after signing (bogus)."""

    def __init__(self, folder, records, corrupt=()):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        zone = folder / ZONE
        zone.write_text(f"$ORIGIN {ZONE}.\n$TTL 60\n"
                        f"@ SOA ns.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 60\n"
                        f"@ NS ns.{ZONE}.\nns A 127.0.0.1\n" + "".join(r + "\n" for r in records))
        key = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", ZONE], cwd=folder, check=True,
                             capture_output=True, text=True).stdout.strip()
        subprocess.run(["ldns-signzone", "-f", str(folder / "signed"), str(zone), key], cwd=folder, check=True,
                       capture_output=True)
        signed = (folder / "signed").read_text().splitlines()
        for owner in corrupt:
            for i, line in enumerate(signed):
                fields = line.split()
                if fields and fields[0] == f"{owner}.{ZONE}." and "RRSIG" not in fields and "NSEC" not in fields:
                    fields[-1] = fields[-1][:-2] + ("00" if fields[-1][-2:] != "00" else "11")
                    signed[i] = "\t".join(fields)
        (folder / "signed").write_text("\n".join(signed) + "\n")
        self.anchor = folder / "anchor.key"
        shutil.copy(folder / f"{key}.key", self.anchor)
        self.port = None
        self.proc = None
        for _ in range(5):
            self.port = free_dns_port()
            conf = folder / "nsd.conf"
            conf.write_text(
                "server:\n"
                f"  ip-address: 127.0.0.1@{self.port}\n  port: {self.port}\n  username: \"\"\n  chroot: \"\"\n"
                f"  zonesdir: \"{folder}\"\n  pidfile: \"{folder}/nsd.pid\"\n  database: \"\"\n"
                f"  xfrdfile: \"{folder}/xfrd.state\"\n  zonelistfile: \"{folder}/zone.list\"\n"
                f"  logfile: \"{folder}/nsd.log\"\n  server-count: 1\n  verbosity: 1\n"
                "remote-control:\n  control-enable: no\n"
                f"zone:\n  name: {ZONE}\n  zonefile: \"{folder}/signed\"\n")
            self.proc = subprocess.Popen(["nsd", "-d", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            try:
                wait_for(self._answers, 10, interval=0.05, what="nsd to answer")
                return
            except AssertionError:
                self.stop()
        raise AssertionError("nsd did not start: " + (folder / "nsd.log").read_text(errors="replace"))

    def _answers(self):
        if self.proc.poll() is not None:
            raise AssertionError("nsd exited")
        import dns.message
        import dns.query
        try:
            dns.query.udp(dns.message.make_query(f"ns.{ZONE}", "A"), "127.0.0.1", port=self.port, timeout=0.5)
            return True
        except Exception:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class PolicyServer:
    """HTTPS on a free loopback port serving /.well-known/mta-sts.txt with the
    test CA's certificate for mta-sts.DOMAIN."""

    def __init__(self, pki, domain, policy, host=None):
        self.policy = policy
        self.fetches = 0
        self.posts = []  # (path, content type, body) of each POST
        cert, key, _ = pki.issue(host or f"mta-sts.{domain}")
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.fetches += 1
                body = outer.policy.encode() if self.path == "/.well-known/mta-sts.txt" else b""
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.posts.append((self.path, self.headers.get("Content-Type"), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = pki.server_context(cert, key).wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def pki(tmp_path):
    return Pki(tmp_path / "pki")


@pytest.fixture
def zone_factory(tmp_path):
    zones = []

    def factory(records, corrupt=()):
        z = SignedZone(tmp_path / f"zone{len(zones)}", records, corrupt)
        zones.append(z)
        return z

    yield factory
    for z in zones:
        z.stop()


@pytest.fixture
def policy_factory(pki):
    servers = []

    def factory(domain, policy, host=None):
        s = PolicyServer(pki, domain, policy, host)
        servers.append(s)
        return s

    yield factory
    for s in servers:
        s.stop()


def start_server(server_factory, zone, sink, pki=None, extra="", https_port=443):
    srv = server_factory(start=False, delivery=(
        f'enabled = true\nresolvers = ["127.0.0.1:{zone.port}"]\nmx_port = {sink.port}\n'
        f'dnssec_trust_anchor = "{zone.anchor}"\nmta_sts_port = {https_port}\n' + extra))
    if pki:
        srv.env = dict(os.environ, SSL_CERT_FILE=str(pki.ca_file))
    srv.start()
    return srv


def deferred_reason(srv):
    def deferred():
        q = queue(srv)
        r = q and q[0]["recipients"][0]
        return r and r["status"] == "deferred" and r["last_response"] and r
    return wait_for(deferred, 30, interval=0.1, what="a deferral")["last_response"]


def tlsa(name, port, digest):
    return f"_{port}._tcp.{name} TLSA 3 1 1 {digest}"


def mx(domain, host):
    return f"{domain} MX 10 {host}.{ZONE}.\n{host} A 127.0.0.1"


# DANE -----------------------------------------------------------------------

def test_dane_ee_match_delivers_over_tls(server_factory, sink_factory, zone_factory, pki):
    cert, key, digest = pki.issue("anything.example", self_signed=True)  # DANE-EE ignores names and issuers
    sink = sink_factory(tls_context=pki.server_context(cert, key))
    zone = zone_factory([mx("good", "mx-good"), tlsa("mx-good", sink.port, digest)])
    srv = start_server(server_factory, zone, sink)
    submit(srv, [f"bob@good.{ZONE}"])
    got = sink.wait(1)
    assert got[0]["tls"] is True
    d = wait_for(lambda: next((e for e in events(srv) if e["type"] == "delivery"), None), 20, what="the event")
    assert d["tls"]["policy"] == "dane" and d["tls"]["verified"] is True, d["tls"]
    assert d["tls"]["version"].startswith("TLSv1.") and d["tls"]["cipher"]
    m = metrics(srv)
    assert m['smtpsd_deliveries_total{result="delivered"}'] == 1
    assert m['smtpsd_tls_policy_sessions_total{policy="tlsa",result="success"}'] == 1
    assert m['smtpsd_tls_policy_sessions_total{policy="sts",result="failure"}'] == 0


def test_tlsa_mismatch_defers_and_never_sends(server_factory, sink_factory, zone_factory, pki):
    cert, key, _ = pki.issue("mx-bad.dane.test")
    sink = sink_factory(tls_context=pki.server_context(cert, key))
    zone = zone_factory([mx("bad", "mx-bad"), tlsa("mx-bad", sink.port, "ab" * 32)])
    srv = start_server(server_factory, zone, sink)
    submit(srv, [f"bob@bad.{ZONE}"])
    reason = deferred_reason(srv)
    assert "4.7.5" in reason and "TLSA" in reason, reason
    assert sink.received() == []


def test_bogus_tlsa_signature_defers(server_factory, sink_factory, zone_factory, pki):
    cert, key, digest = pki.issue("mx-bogus.dane.test")
    sink = sink_factory(tls_context=pki.server_context(cert, key))
    zone = zone_factory([mx("bogus", "mx-bogus"), tlsa("mx-bogus", sink.port, digest)],
                        corrupt=[f"_{sink.port}._tcp.mx-bogus"])
    srv = start_server(server_factory, zone, sink)
    submit(srv, [f"bob@bogus.{ZONE}"])
    reason = deferred_reason(srv)
    assert "TLSA lookup bogus" in reason, reason
    assert sink.received() == []


def test_starttls_stripped_under_dane_defers_without_plaintext(server_factory, sink_factory, zone_factory, pki):
    _, _, digest = pki.issue("mx-good.dane.test")
    sink = sink_factory()  # offers no STARTTLS: what a man in the middle who strips it shows
    zone = zone_factory([mx("good", "mx-good"), tlsa("mx-good", sink.port, digest)])
    srv = start_server(server_factory, zone, sink)
    submit(srv, [f"bob@good.{ZONE}"])
    reason = deferred_reason(srv)
    assert "4.7.4" in reason and "STARTTLS not offered" in reason, reason
    assert sink.received() == []


def test_opportunistic_policy_ignores_tlsa(server_factory, sink_factory, zone_factory, pki):
    cert, key, _ = pki.issue("mx-bad.dane.test")
    sink = sink_factory(tls_context=pki.server_context(cert, key))
    zone = zone_factory([mx("bad", "mx-bad"), tlsa("mx-bad", sink.port, "ab" * 32)])
    srv = start_server(server_factory, zone, sink, extra='tls_policy = "opportunistic"\n')
    submit(srv, [f"bob@bad.{ZONE}"])
    assert sink.wait(1)[0]["tls"] is True


# MTA-STS --------------------------------------------------------------------

def sts_zone(zone_factory, domain, mx_host, policy_id="1"):
    return zone_factory([mx(domain, mx_host), f'_mta-sts.{domain} TXT "v=STSv1; id={policy_id}"',
                         f"mta-sts.{domain} A 127.0.0.1"])


def policy(mode, *mxs):
    return "version: STSv1\r\nmode: " + mode + "\r\n" + "".join(f"mx: {m}\r\n" for m in mxs) + "max_age: 86400\r\n"


def test_mta_sts_enforce_delivers_to_a_verified_mx(server_factory, sink_factory, zone_factory, policy_factory, pki):
    cert, key, _ = pki.issue(f"mx-sts.{ZONE}")
    sink = sink_factory(tls_context=pki.server_context(cert, key))
    web = policy_factory(f"sts.{ZONE}", policy("enforce", f"*.{ZONE}"))
    zone = sts_zone(zone_factory, "sts", "mx-sts")
    srv = start_server(server_factory, zone, sink, pki, https_port=web.port)
    submit(srv, [f"bob@sts.{ZONE}"])
    assert sink.wait(1)[0]["tls"] is True
    assert web.fetches == 1
    cache = json.loads((srv.root / "data" / "mta-sts.json").read_text())
    assert cache["policies"][f"sts.{ZONE}"]["mode"] == "enforce"

    # The cached policy survives a restart: with the web server gone, a
    # wrong-name certificate is still refused.
    web.stop()
    srv.stop()
    sink.tls_context = pki.server_context(*pki.issue("wrong.example")[:2])
    srv.start()
    submit(srv, [f"carol@sts.{ZONE}"])
    reason = deferred_reason(srv)
    assert "4.7.5" in reason and "certificate not verified" in reason, reason
    assert len(sink.received()) == 1


def test_mta_sts_enforce_with_a_wrong_name_defers(server_factory, sink_factory, zone_factory, policy_factory, pki):
    cert, key, _ = pki.issue("wrong.example")
    sink = sink_factory(tls_context=pki.server_context(cert, key))
    web = policy_factory(f"sts.{ZONE}", policy("enforce", f"mx-sts.{ZONE}"))
    zone = sts_zone(zone_factory, "sts", "mx-sts")
    srv = start_server(server_factory, zone, sink, pki, https_port=web.port)
    submit(srv, [f"bob@sts.{ZONE}"])
    reason = deferred_reason(srv)
    assert "certificate not verified (mta-sts)" in reason and "hostname mismatch" in reason, reason
    assert sink.received() == []


def test_mta_sts_testing_with_a_wrong_name_delivers(server_factory, sink_factory, zone_factory, policy_factory, pki):
    cert, key, _ = pki.issue("wrong.example")
    sink = sink_factory(tls_context=pki.server_context(cert, key))
    web = policy_factory(f"sts.{ZONE}", policy("testing", f"mx-sts.{ZONE}"))
    zone = sts_zone(zone_factory, "sts", "mx-sts")
    srv = start_server(server_factory, zone, sink, pki, https_port=web.port)
    submit(srv, [f"bob@sts.{ZONE}"])
    assert sink.wait(1)[0]["tls"] is True
    assert web.fetches == 1
    d = wait_for(lambda: next((e for e in events(srv) if e["type"] == "delivery"), None), 20, what="the event")
    assert d["tls"]["policy"] == "mta-sts" and d["tls"]["verified"] is False, "testing: delivered unverified"
    assert metrics(srv)['smtpsd_tls_policy_sessions_total{policy="sts",result="failure"}'] == 1


def test_mta_sts_mx_not_in_the_policy_is_skipped(server_factory, sink_factory, zone_factory, policy_factory, pki):
    cert, key, _ = pki.issue(f"mx-sts.{ZONE}")
    sink = sink_factory(tls_context=pki.server_context(cert, key))
    web = policy_factory(f"sts.{ZONE}", policy("enforce", "mx.elsewhere.example"))
    zone = sts_zone(zone_factory, "sts", "mx-sts")
    srv = start_server(server_factory, zone, sink, pki, https_port=web.port)
    submit(srv, [f"bob@sts.{ZONE}"])
    reason = deferred_reason(srv)
    assert "not an mx of the domain's MTA-STS policy" in reason, reason
    assert sink.received() == []


def test_route_tls_verify_refuses_an_unverified_certificate(server_factory, sink_factory, pki):
    cert, key, _ = pki.issue("wrong.example")
    sink = sink_factory(tls_context=pki.server_context(cert, key))
    srv = server_factory(delivery=(
        f'enabled = true\nroutes = {{ "*" = {{ address = "127.0.0.1:{sink.port}", tls = "verify" }} }}\n'))
    submit(srv, ["bob@example.net"])
    reason = deferred_reason(srv)
    assert "certificate not verified (route)" in reason, reason
    assert sink.received() == []


def test_probe_domain_shows_tlsa_dnssec_and_the_requirement(server_factory, sink_factory, zone_factory, pki):
    cert, key, digest = pki.issue("mx-good.dane.test")
    sink = sink_factory(tls_context=pki.server_context(cert, key))
    zone = zone_factory([mx("good", "mx-good"), tlsa("mx-good", sink.port, digest)])
    srv = start_server(server_factory, zone, sink)
    r = srv.cli_json("probe", "--domain", f"good.{ZONE}")
    assert r["mx_dnssec"] == "secure" and r["policy"] == "dane", r
    assert r["hosts"][0]["name"] == f"mx-good.{ZONE}"
    assert r["hosts"][0]["tlsa"] == [f"3 1 1 {digest}"]
    assert r["hosts"][0]["requires"] == "TLS required, verified"
    assert r["mta_sts"] is None


# REQUIRETLS (RFC 8689) -------------------------------------------------------

class RequireTlsReceiver:
    """A small MTA in a thread: STARTTLS with the given certificate, then
    REQUIRETLS in EHLO (unless `offer` is false); records each MAIL line."""

    def __init__(self, ctx, offer=True):
        self.ctx, self.offer = ctx, offer
        self.mails, self.messages = [], []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.conn = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.conn = conn
            try:
                self._session(conn)
            except (OSError, ssl.SSLError, ValueError):
                pass
            finally:
                conn.close()

    def _session(self, conn):
        conn.settimeout(10)
        f = conn.makefile("rb")
        conn.sendall(b"220 receiver ESMTP\r\n")
        tls = False
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.decode().strip()
            verb = cmd.split(" ")[0].upper()
            if verb == "EHLO":
                ext = [b"STARTTLS"] if not tls else ([b"REQUIRETLS"] if self.offer else []) + [b"8BITMIME"]
                conn.sendall(b"250-receiver\r\n" + b"".join(b"250-" + e + b"\r\n" for e in ext[:-1])
                             + b"250 " + ext[-1] + b"\r\n")
            elif verb == "STARTTLS":
                conn.sendall(b"220 go ahead\r\n")
                conn = self.conn = self.ctx.wrap_socket(conn, server_side=True)
                f = conn.makefile("rb")
                tls = True
            elif verb == "MAIL":
                self.mails.append(cmd)
                conn.sendall(b"250 ok\r\n")
            elif verb == "RCPT":
                conn.sendall(b"250 ok\r\n")
            elif verb == "DATA":
                conn.sendall(b"354 go\r\n")
                data = b""
                while not data.endswith(b"\r\n.\r\n"):
                    chunk = f.readline()
                    if not chunk:
                        return
                    data += chunk
                self.messages.append(data)
                conn.sendall(b"250 queued\r\n")
            elif verb == "QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")

    def close(self):
        self.running = False
        if self.conn:  # a connection the server keeps open would hold the thread in readline
            try:
                self.conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def receiver_factory():
    made = []

    def factory(ctx, offer=True):
        r = RequireTlsReceiver(ctx, offer)
        made.append(r)
        return r

    yield factory
    for r in made:
        r.close()


def failed_reason(srv):
    """The reply of the first bounce event (a failed message leaves the queue)."""
    def bounced():
        return next((e for e in events(srv) if e["type"] == "bounce"), None)
    return wait_for(bounced, 30, interval=0.1, what="a bounce")["smtp_response"]


def test_requiretls_goes_only_over_dane_verified_tls_to_a_server_offering_it(
        server_factory, zone_factory, receiver_factory, pki):
    cert, key, digest = pki.issue(f"mx-good.{ZONE}")
    rx = receiver_factory(pki.server_context(cert, key))
    zone = zone_factory([mx("good", "mx-good"), tlsa("mx-good", rx.port, digest)])
    srv = start_server(server_factory, zone, rx)
    with srv.smtp_ssl() as s:
        s.login("alice", PASSWORD)
        assert s.has_extn("requiretls"), "offered on submission after TLS"
        s.sendmail("alice@example.com", [f"bob@good.{ZONE}"], "From: alice@example.com\r\nSubject: r\r\n\r\nhi\r\n",
                   mail_options=["REQUIRETLS"])
    wait_for(lambda: rx.messages, 30, interval=0.1, what="the delivery")
    assert rx.mails == ["MAIL FROM:<alice@example.com> REQUIRETLS"], rx.mails


def test_requiretls_to_a_server_without_it_bounces_5_7_30(server_factory, zone_factory, receiver_factory, pki):
    cert, key, digest = pki.issue(f"mx-good.{ZONE}")
    rx = receiver_factory(pki.server_context(cert, key), offer=False)
    zone = zone_factory([mx("good", "mx-good"), tlsa("mx-good", rx.port, digest)])
    srv = start_server(server_factory, zone, rx)
    submit(srv, [f"bob@good.{ZONE}"], mail_options=["REQUIRETLS"])
    reason = failed_reason(srv)
    assert "5.7.30" in reason and "REQUIRETLS support required" in reason, reason
    assert rx.mails == [], "no MAIL was sent"


def test_requiretls_without_verified_tls_bounces_5_7_10(server_factory, sink_factory, pki):
    cert, key, _ = pki.issue("mx.example.net")
    sink = sink_factory(tls_context=pki.server_context(cert, key))
    srv = server_factory(delivery=f'enabled = true\nroutes = {{ "*" = "127.0.0.1:{sink.port}" }}\n')
    submit(srv, ["bob@example.net"], mail_options=["REQUIRETLS"])
    reason = failed_reason(srv)
    assert "5.7.10" in reason and "REQUIRETLS" in reason, reason
    # Only the DSN to the sender reaches the sink, never the message.
    dsn = sink.wait(1)
    assert dsn[0]["from"] in ("", "<>") and dsn[0]["rcpts"] == ["alice@example.com"], dsn[0]
    assert b"5.7.10" in dsn[0]["data"]


def test_tls_required_no_sets_the_recipient_policy_aside(server_factory, sink_factory, zone_factory, pki):
    cert, key, _ = pki.issue(f"mx-bad.{ZONE}")
    sink = sink_factory(tls_context=pki.server_context(cert, key))
    zone = zone_factory([mx("bad", "mx-bad"), tlsa("mx-bad", sink.port, "ab" * 32)])
    srv = start_server(server_factory, zone, sink)
    submit(srv, [f"bob@bad.{ZONE}"],
           body=f"From: alice@example.com\r\nTo: bob@bad.{ZONE}\r\nTLS-Required: No\r\nSubject: x\r\n\r\nhi\r\n")
    got = sink.wait(1)
    assert got[0]["tls"] is True, "STARTTLS is still used when offered"
    assert b"TLS-Required: No" in got[0]["data"]


# TLS-RPT (RFC 8460) ---------------------------------------------------------

def test_tls_report_of_a_failure_reaches_mailto_and_https_rua(
        server_factory, sink_factory, zone_factory, policy_factory, pki):
    import email
    import email.policy
    import gzip
    cert, key, _ = pki.issue(f"mx-bad.{ZONE}")
    sink = sink_factory(tls_context=pki.server_context(cert, key))
    reports_mx = sink_factory()
    web = policy_factory("reports", "", host="localhost")
    zone = zone_factory([mx("bad", "mx-bad"), tlsa("mx-bad", sink.port, "ab" * 32),
                         f'_smtp._tls.bad TXT "v=TLSRPTv1; rua=mailto:tlsrpt@reports.example,'
                         f'https://localhost:{web.port}/tlsrpt"'])
    srv = start_server(server_factory, zone, sink, pki, extra=(
        f'tls_report_period_s = 2\nroutes = {{ "reports.example" = "127.0.0.1:{reports_mx.port}" }}\n'))
    submit(srv, [f"bob@bad.{ZONE}"])
    deferred_reason(srv)

    got = reports_mx.wait(1, timeout=30, what="the report mail")[0]
    assert got["rcpts"] == ["tlsrpt@reports.example"]
    msg = email.message_from_bytes(got["data"], policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report" and msg.get_param("report-type") == "tlsrpt"
    assert msg["TLS-Report-Domain"] == f"bad.{ZONE}"
    assert msg["Subject"].startswith(f"Report Domain: bad.{ZONE} Submitter: mail.test Report-ID: <")
    part = next(p for p in msg.iter_attachments() if p.get_content_type() == "application/tlsrpt+gzip")
    report = json.loads(gzip.decompress(part.get_payload(decode=True)))
    for key in ("organization-name", "date-range", "contact-info", "report-id", "policies"):
        assert key in report, key
    assert report["date-range"]["start-datetime"].endswith("Z")
    [p] = report["policies"]
    assert p["policy"]["policy-type"] == "tlsa" and p["policy"]["policy-domain"] == f"bad.{ZONE}"
    assert p["policy"]["policy-string"] == ["3 1 1 " + "ab" * 32]
    assert p["summary"] == {"total-successful-session-count": 0, "total-failure-session-count": 1}
    [d] = p["failure-details"]
    assert d["result-type"] == "validation-failure" and d["receiving-mx-hostname"] == f"mx-bad.{ZONE}"
    assert d["receiving-ip"] == "127.0.0.1" and d["failed-session-count"] == 1

    wait_for(lambda: web.posts, 30, interval=0.1, what="the report POST")
    path, ctype, body = web.posts[0]
    assert path == "/tlsrpt" and ctype == "application/tlsrpt+gzip"
    assert json.loads(gzip.decompress(body))["policies"] == report["policies"]


class StripStarttls:
    """A man in the middle on loopback: relays to `upstream` and deletes
    STARTTLS from every EHLO reply, as an attacker who downgrades does."""

    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.client_bytes = b""  # everything the client sent through it
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                down, _ = self.sock.accept()
            except OSError:
                continue
            up = socket.create_connection(("127.0.0.1", self.upstream), timeout=10)
            threading.Thread(target=self._pump, args=(down, up, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, down, True), daemon=True).start()

    def _pump(self, src, dst, from_server):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_server:
                    lines = data.split(b"\r\n")
                    kept = [x for x in lines if not x[4:].upper().startswith(b"STARTTLS")]
                    if len(kept) != len(lines) and kept[-2:-1] and kept[-2].startswith(b"250-"):
                        kept[-2] = b"250 " + kept[-2][4:]  # the reply's last line again
                    data = b"\r\n".join(kept)
                else:
                    self.client_bytes += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.running = False
        self.thread.join(5)
        self.sock.close()


def test_mta_sts_enforce_with_starttls_stripped_by_a_proxy_defers(
        server_factory, sink_factory, zone_factory, policy_factory, pki):
    cert, key, _ = pki.issue(f"mx-sts.{ZONE}")
    sink = sink_factory(tls_context=pki.server_context(cert, key))
    mitm = StripStarttls(sink.port)
    try:
        web = policy_factory(f"sts.{ZONE}", policy("enforce", f"mx-sts.{ZONE}"))
        zone = sts_zone(zone_factory, "sts", "mx-sts")
        srv = start_server(server_factory, zone, mitm, pki, https_port=web.port)
        submit(srv, [f"bob@sts.{ZONE}"], subject="secret plans")
        reason = deferred_reason(srv)
        assert "4.7.4" in reason and "STARTTLS not offered" in reason, reason
        assert b"MAIL FROM" not in mitm.client_bytes and b"secret plans" not in mitm.client_bytes
        assert sink.received() == []
    finally:
        mitm.close()
