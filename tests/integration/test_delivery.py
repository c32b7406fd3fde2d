"""Delivery (issue 4): the queue manager, MX resolution through dnsmasq, the
SMTP client against an aiosmtpd sink and against smtpsd itself, retries,
DSNs, suppression, events, and remote servers that misbehave."""
import email
import email.policy
import json
import signal
import socket
import ssl
import threading
import time

import pytest

from conftest import PASSWORD, metrics, wait_for

FROM = "alice@example.com"


def route_all(sink, extra=""):
    return f'enabled = true\nroutes = {{ "*" = "127.0.0.1:{sink.port}" }}\n' + extra


def submit(srv, to, body=None, subject="delivery test", sender=FROM, **kw):
    if body is None:
        body = f"From: {sender}\r\nTo: {', '.join(to)}\r\nSubject: {subject}\r\n\r\nHello.\r\n"
    with srv.smtp_ssl() as s:
        s.login("alice", PASSWORD)
        s.sendmail(sender, to, body, **kw)


def queue(srv):
    return srv.cli_json("queue", "list")


def events(srv):
    path = srv.root / "data" / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def wait_queue_empty(srv, timeout=20):
    wait_for(lambda: queue(srv) == [], timeout, interval=0.1, what="the queue to empty")


def test_delivers_through_mx_records(server_factory, sink_factory, dnsmasq_factory):
    sink = sink_factory()
    dns = dnsmasq_factory(["--mx-host=mx.test,mail-b.mx.test,20", "--mx-host=mx.test,mail-a.mx.test,10",
                           "--host-record=mail-a.mx.test,127.0.0.1", "--host-record=mail-b.mx.test,127.0.0.2"])
    srv = server_factory(delivery=f'enabled = true\nresolvers = ["127.0.0.1:{dns.port}"]\nmx_port = {sink.port}\n')
    submit(srv, ["bob@mx.test", "carol@MX.test"])
    got = sink.wait(1)
    assert len(got) == 1, "both recipients in one transaction"
    m = got[0]
    assert m["from"] == FROM
    assert sorted(m["rcpts"]) == ["bob@mx.test", "carol@MX.test"]
    msg = email.message_from_bytes(m["data"], policy=email.policy.SMTP)
    assert msg["Subject"] == "delivery test"
    assert "by localhost (smtpsd)" in msg["Received"].replace("\r\n", " ").replace("\t", " ") or "smtpsd" in msg["Received"]
    assert m["data"].count(b"\n") == m["data"].count(b"\r\n"), "CRLF only on the wire"
    wait_queue_empty(srv)
    ev = events(srv)
    kinds = [e["type"] for e in ev]
    assert kinds.count("send") == 1 and kinds.count("delivery") == 1, kinds
    d = next(e for e in ev if e["type"] == "delivery")
    assert set(d) == {"type", "event_id", "time", "queue_id", "message_id", "account", "from", "recipients",
                      "smtp_response", "remote_mta", "configuration_set", "tags", "tls"}  # SPEC §5, and issue 17's tls
    assert d["tls"] is None, "the sink offers no STARTTLS"
    assert d["account"] == "acme" and d["from"] == FROM
    assert d["remote_mta"] == "mail-a.mx.test", "the preferred MX answered"
    assert d["smtp_response"].startswith("250")
    assert sorted(d["recipients"]) == ["bob@mx.test", "carol@MX.test"]
    assert metrics(srv)['smtpsd_deliveries_total{result="delivered"}'] == 2


def test_451_is_retried_then_delivered_with_queue_retry(server_factory, sink_factory):
    sink = sink_factory()
    srv = server_factory(delivery=route_all(sink))
    submit(srv, ["temp-dave@example.org"])

    def deferred():
        q = queue(srv)
        return q and q[0]["recipients"][0]["status"] == "deferred" and q[0]
    m = wait_for(deferred, 20, interval=0.1, what="a deferral")
    r = m["recipients"][0]
    assert r["attempts"] == 1
    assert r["last_response"].startswith("451 4.3.0")
    assert r["next_attempt"] is not None, "a retry is scheduled (about a minute later)"
    assert sink.received() == []
    delay = [e for e in events(srv) if e["type"] == "delivery_delay"]
    assert len(delay) == 1 and delay[0]["recipients"] == ["temp-dave@example.org"]
    assert delay[0]["smtp_response"].startswith("451")

    sink.hold_temp = False
    srv.cli("queue", "retry", m["id"])
    got = sink.wait(1)
    assert got[0]["rcpts"] == ["temp-dave@example.org"]
    wait_queue_empty(srv)
    assert [e["type"] for e in events(srv)].count("delivery") == 1


def dsn_parts(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "message/delivery-status", "text/rfc822-headers"]
    return msg, parts


def test_550_bounces_with_a_dsn_and_suppresses_the_address(server_factory, sink_factory):
    sink = sink_factory()
    srv = server_factory(delivery=route_all(sink))
    submit(srv, ["reject-erin@example.org", "frank@example.org"], subject="to be bounced")
    got = sink.wait(2, what="the delivery and the DSN")
    normal = [m for m in got if m["from"] == FROM]  # aiosmtpd shows the null sender as "<>"
    dsn = [m for m in got if m["from"] == "<>"]
    assert len(normal) == 1 and normal[0]["rcpts"] == ["frank@example.org"]
    assert len(dsn) == 1 and dsn[0]["rcpts"] == [FROM], "one DSN, to the envelope sender, from <>"
    msg, parts = dsn_parts(dsn[0]["data"])
    status = parts[1].get_payload()[1] if parts[1].is_multipart() else None
    text = dsn[0]["data"].decode()
    assert "Final-Recipient: rfc822; reject-erin@example.org" in text
    assert "Action: failed" in text and "Status: 5.1.1" in text
    assert "Diagnostic-Code: smtp; 550 5.1.1" in text
    assert "frank@example.org" not in parts[0].get_content(), "only the failed recipient is reported"
    assert "Subject: to be bounced" in text, "the original headers come back"
    assert msg["Auto-Submitted"] == "auto-replied"

    sup = srv.cli_json("suppression", "list")
    assert [s["address"] for s in sup] == ["reject-erin@example.org"]
    assert sup[0]["reason"].startswith("bounce: 550 5.1.1")
    wait_queue_empty(srv)
    bounce = [e for e in events(srv) if e["type"] == "bounce"]
    assert len(bounce) == 1 and bounce[0]["recipients"] == ["reject-erin@example.org"]
    m = metrics(srv)
    assert m['smtpsd_deliveries_total{result="failed"}'] == 1
    # The next message to that address is refused at RCPT time.
    with srv.smtp_ssl() as s:
        s.login("alice", PASSWORD)
        s.mail(FROM)
        code, text = s.rcpt("reject-erin@example.org")
        assert code == 550 and b"suppression list" in text


def test_null_mx_and_nxdomain_fail_without_retry(server_factory, sink_factory, dnsmasq_factory):
    sink = sink_factory()
    dns = dnsmasq_factory(["--mx-host=nullmx.test,.,0", "--address=/nxdomain.test/", "--mx-host=example.com,mail.example.com,10",
                           "--host-record=mail.example.com,127.0.0.1"])
    srv = server_factory(delivery=f'enabled = true\nresolvers = ["127.0.0.1:{dns.port}"]\nmx_port = {sink.port}\n')
    submit(srv, ["gina@nullmx.test", "hank@nxdomain.test"])
    got = sink.wait(1, what="the DSN")
    assert got[0]["from"] == "<>" and got[0]["rcpts"] == [FROM], "the DSN went through the MX of example.com"
    text = got[0]["data"].decode()
    assert "Status: 5.1.10" in text and "null MX" in text
    assert "Status: 5.1.2" in text and "does not exist" in text
    wait_queue_empty(srv)
    assert srv.cli_json("suppression", "list") == [], "our own DNS verdicts are not remote hard bounces"


def test_smarthost_over_implicit_tls_with_auth(server_factory, sink_factory, tmp_path):
    sink = sink_factory()
    relay = server_factory(name="relay", delivery=route_all(sink))
    relay.cli("credential", "add", "acme", "--username", "relayuser", "--password-stdin", input="relay secret\n")
    (tmp_path / "relay-password").write_text("relay secret\n")
    front = server_factory(name="front", delivery=(
        'enabled = true\n'
        f'smarthost = {{ address = "localhost:{relay.ports[0]}", mode = "implicit-tls", username = "relayuser", '
        f'password_file = "{tmp_path / "relay-password"}", ca_file = "{relay.cert}" }}\n'))
    submit(front, ["ivan@example.net"], subject="via the smarthost")
    got = sink.wait(1)
    assert got[0]["rcpts"] == ["ivan@example.net"]
    msg = email.message_from_bytes(got[0]["data"], policy=email.policy.default)
    received = msg.get_all("Received")
    assert len(received) == 2, "one Received per hop"
    assert "ESMTPSA" in received[0] and "TLSv1.3" in received[0], "the relay saw an authenticated TLS session"
    wait_queue_empty(front)
    wait_queue_empty(relay)
    assert "relay secret" not in front.log() and "relay secret" not in relay.log()
    d = [e for e in events(front) if e["type"] == "delivery"]
    assert d and d[0]["remote_mta"] == "localhost"


def test_smarthost_with_an_untrusted_certificate_is_deferred(server_factory, sink_factory, tmp_path):
    sink = sink_factory()
    relay = server_factory(name="relay", delivery=route_all(sink))
    (tmp_path / "pw").write_text("x\n")
    front = server_factory(name="front", delivery=(
        'enabled = true\n'
        f'smarthost = {{ address = "localhost:{relay.ports[0]}", mode = "implicit-tls", username = "alice", '
        f'password_file = "{tmp_path / "pw"}" }}\n'))
    submit(front, ["ivan@example.net"])

    def deferred():
        q = queue(front)
        return q and q[0]["recipients"][0]["status"] == "deferred" and q[0]["recipients"][0]
    r = wait_for(deferred, 20, interval=0.1, what="a deferral")
    assert "certificate" in r["last_response"], r["last_response"]
    assert sink.received() == []


def test_restart_with_deliveries_in_flight_delivers_each_once(server_factory, sink_factory):
    sink = sink_factory(data_delay=0.5)
    srv = server_factory(delivery=route_all(sink, "per_destination = 2\n"))
    n = 12
    with srv.smtp_ssl() as s:
        s.login("alice", PASSWORD)
        for i in range(n):
            s.sendmail(FROM, [f"u{i}@example.org"],
                       f"From: {FROM}\r\nTo: u{i}@example.org\r\nMessage-ID: <m{i}@test>\r\nSubject: {i}\r\n\r\nx\r\n")
    wait_for(lambda: sink.data_started >= 1, 10, what="a delivery in flight")
    assert srv.stop() == 0
    assert len(sink.received()) < n, "some were still queued at the stop"
    srv.start()
    sink.wait(n, timeout=30)
    wait_queue_empty(srv)
    ids = [email.message_from_bytes(m["data"])["Message-ID"] for m in sink.received()]
    assert sorted(ids) == sorted(f"<m{i}@test>" for i in range(n)), "each exactly once"


def test_dot_lines_eight_bit_and_smtputf8(server_factory, sink_factory):
    sink = sink_factory(smtputf8=True)
    srv = server_factory(delivery=route_all(sink))
    body = ("From: alice@example.com\r\nTo: bjørn@example.org\r\nSubject: dots\r\n\r\n"
            ".leading dot\r\n..two dots\r\n.\r\nafter a lone dot\r\nnaïve café ✓\r\n").encode()
    with srv.smtp_ssl() as s:
        s.login("alice", PASSWORD)
        s.sendmail(FROM, ["bjørn@example.org"], body, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    got = sink.wait(1)
    assert got[0]["rcpts"] == ["bjørn@example.org"]
    assert "SMTPUTF8" in got[0]["mail_options"] and "BODY=8BITMIME" in got[0]["mail_options"]
    data = got[0]["data"]
    assert data.endswith(body.split(b"\r\n\r\n", 1)[1]), "the body arrives byte for byte, dots unstuffed"
    wait_queue_empty(srv)


def test_internationalised_domain_is_looked_up_by_its_a_labels(server_factory, sink_factory, dnsmasq_factory):
    # DNS holds xn--bcher-kva.test; the recipient was written bücher.test.
    sink = sink_factory(smtputf8=True)
    dns = dnsmasq_factory(["--mx-host=xn--bcher-kva.test,mail.xn--bcher-kva.test,10",
                           "--host-record=mail.xn--bcher-kva.test,127.0.0.1"])
    srv = server_factory(delivery=f'enabled = true\nresolvers = ["127.0.0.1:{dns.port}"]\nmx_port = {sink.port}\n')
    with srv.smtp_ssl() as s:
        s.login("alice", PASSWORD)
        s.sendmail(FROM, ["anna@bücher.test"], "From: alice@example.com\r\nSubject: idn\r\n\r\nx\r\n".encode(),
                   mail_options=["SMTPUTF8"])
    got = sink.wait(1)
    assert got[0]["rcpts"] == ["anna@bücher.test"], "the envelope keeps the address as the sender wrote it"
    wait_queue_empty(srv)
    d = next(e for e in events(srv) if e["type"] == "delivery")
    assert d["remote_mta"] == "mail.xn--bcher-kva.test"


def test_a_route_named_by_its_u_labels_takes_the_a_label_form(server_factory, sink_factory):
    sink = sink_factory()
    srv = server_factory(delivery=f'enabled = true\nroutes = {{ "Bücher.test" = "127.0.0.1:{sink.port}" }}\n')
    submit(srv, ["anna@xn--bcher-kva.test"])
    assert sink.wait(1)[0]["rcpts"] == ["anna@xn--bcher-kva.test"]
    wait_queue_empty(srv)


def test_smtputf8_to_a_server_without_it_fails_permanently(server_factory, sink_factory):
    sink = sink_factory(smtputf8=False)
    srv = server_factory(delivery=route_all(sink))
    with srv.smtp_ssl() as s:
        s.login("alice", PASSWORD)
        s.sendmail(FROM, ["bjørn@example.org"], "From: alice@example.com\r\nSubject: u\r\n\r\nx\r\n".encode(),
                   mail_options=["SMTPUTF8"])
    got = sink.wait(1, what="the DSN")
    assert got[0]["from"] == "<>"
    text = got[0]["data"].decode()
    assert "Status: 5.6.7" in text and "SMTPUTF8" in text
    wait_queue_empty(srv)


class BadServer:
    """A remote SMTP server that misbehaves in one chosen way."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.accepted = threading.Event()
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted.set()
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _lines(self, f):
        while not self.stopping:
            line = f.readline()
            if not line:
                return
            yield line.strip().upper()

    def _one(self, conn):
        conn.settimeout(30)
        f = conn.makefile("rb")
        try:
            if self.mode == "silent":  # accepts, never greets
                self.closed.wait(60)
                return
            if self.mode == "garbage":
                conn.sendall(b"\x00\xff\xfeHELLO I am not SMTP\r\n")
                time.sleep(1)
                return
            conn.sendall(b"220 bad.test ESMTP\r\n")
            for line in self._lines(f):
                if line.startswith(b"EHLO"):
                    if self.mode == "slow":
                        time.sleep(10)
                        return
                    if self.mode == "huge_reply":
                        chunk = b"250-" + b"x" * 1000 + b"\r\n"
                        sent = 0
                        while sent < 10 * 1024 * 1024:
                            conn.sendall(chunk * 64)
                            sent += len(chunk) * 64
                        conn.sendall(b"250 done\r\n")
                        continue
                    ext = b"250-STARTTLS\r\n" if self.mode == "bad_starttls" else b""
                    conn.sendall(b"250-bad.test\r\n" + ext + b"250 8BITMIME\r\n")
                elif line == b"STARTTLS":
                    conn.sendall(b"220 2.0.0 go ahead\r\n")
                    time.sleep(0.1)
                    conn.sendall(b"this is not a TLS server hello\r\n" * 4)
                    return
                elif line.startswith(b"MAIL") or line.startswith(b"RCPT"):
                    conn.sendall(b"250 2.1.0 ok\r\n")
                elif line == b"DATA":
                    conn.sendall(b"354 go on\r\n")
                    f.read(20)
                    return  # close in the middle of the data
                elif line == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"250 ok\r\n")
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stopping = True
        self.closed.set()
        self.sock.close()


@pytest.mark.parametrize("mode,reason", [
    ("garbage", "malformed reply line"),
    ("huge_reply", "too many lines"),
    ("slow", "timed out"),
    ("close_mid_data", "lost"),
    ("bad_starttls", "STARTTLS"),
])
def test_misbehaving_remote_is_deferred_with_a_reason(server_factory, sink_factory, mode, reason):
    sink = sink_factory()
    bad = BadServer(mode)
    try:
        srv = server_factory(delivery=(
            f'enabled = true\nroutes = {{ "bad.test" = "127.0.0.1:{bad.port}", "*" = "127.0.0.1:{sink.port}" }}\n'
            'command_timeout_s = 2\nconnect_timeout_s = 2\n'))
        started = time.monotonic()
        submit(srv, ["victim@bad.test", "fine@example.org"])
        got = sink.wait(1, what="the other domain's delivery")
        assert got[0]["rcpts"] == ["fine@example.org"], "other deliveries are not harmed"

        def deferred():
            q = queue(srv)
            return q and q[0]["recipients"][0]["status"] == "deferred" and q[0]["recipients"][0]
        r = wait_for(deferred, 20, interval=0.1, what="a deferral")
        assert time.monotonic() - started < 15, "within the timeouts"
        assert r["last_response"].startswith("4"), r["last_response"]
        assert reason in r["last_response"], r["last_response"]
        assert srv.proc.poll() is None
    finally:
        bad.close()


def test_corrupt_queue_entry_is_moved_aside(server_factory, sink_factory):
    sink = sink_factory()
    srv = server_factory(delivery="enabled = false\n")
    submit(srv, ["one@example.org"], subject="corrupt")
    submit(srv, ["two@example.org"], subject="fine")
    ids = [m["id"] for m in queue(srv)]
    assert srv.stop() == 0
    # Damage the first message's record in its segment: one octet of its body.
    for seg in (srv.root / "data" / "spool").glob("seg-*"):
        raw = bytearray(seg.read_bytes())
        at = raw.find(ids[0].encode())
        if at >= 0:
            raw[at + 16 + 2] ^= 0x20
            seg.write_bytes(bytes(raw))
            break
    else:
        raise AssertionError("no segment holds " + ids[0])
    srv.config.write_text(srv.config.read_text().replace(
        "[delivery]\nenabled = false\n", f'[delivery]\nenabled = true\nroutes = {{ "*" = "127.0.0.1:{sink.port}" }}\n'))
    srv.start()
    got = sink.wait(1)
    assert b"Subject: fine" in got[0]["data"]
    wait_queue_empty(srv)
    assert (srv.root / "data" / "spool" / "corrupt" / ids[0]).exists()
    assert metrics(srv)["smtpsd_queue_corrupt_total"] == 1
    assert "corrupt queue entry moved aside" in srv.log()


def test_recipients_sharing_a_next_hop_share_a_transaction(server_factory, sink_factory):
    sink = sink_factory()
    srv = server_factory(delivery=route_all(sink))
    submit(srv, ["a@one.test", "b@two.test", "c@one.test"])
    got = sink.wait(1)
    assert sorted(got[0]["rcpts"]) == ["a@one.test", "b@two.test", "c@one.test"], "one transaction to the route"
    wait_queue_empty(srv)
    assert len(sink.received()) == 1


def test_a_message_to_more_destinations_than_workers(server_factory, sink_factory, dnsmasq_factory):
    # Twelve domains, each its own MX hop: eight at a time, every one once.
    sink = sink_factory()
    domains = [f"d{i}.test" for i in range(12)]
    dns = dnsmasq_factory([f"--mx-host={d},mx.{d},10" for d in domains] +
                          [f"--host-record=mx.{d},127.0.0.1" for d in domains])
    srv = server_factory(delivery=f'enabled = true\nresolvers = ["127.0.0.1:{dns.port}"]\nmx_port = {sink.port}\n')
    submit(srv, [f"u@{d}" for d in domains])
    got = sink.wait(12)
    assert sorted(r for m in got for r in m["rcpts"]) == sorted(f"u@{d}" for d in domains)
    assert all(len(m["rcpts"]) == 1 for m in got), "one transaction per MX hop"
    wait_queue_empty(srv)
    assert len(sink.received()) == 12


def test_a_large_message_streams_to_two_destinations_at_once(server_factory, sink_factory):
    # Over 1 MiB the body is read from the spool as it is sent: each
    # destination reads its own copy.
    one, two = sink_factory(), sink_factory()
    srv = server_factory(delivery=(
        f'enabled = true\nroutes = {{ "one.test" = "127.0.0.1:{one.port}", "two.test" = "127.0.0.1:{two.port}" }}\n'))
    line = "0123456789" * 9 + "\r\n"
    body = "".join(f"{i:08d} {line}" for i in range(30000))  # ~3 MiB
    submit(srv, ["a@one.test", "b@two.test"], body=f"From: {FROM}\r\nSubject: big\r\n\r\n{body}")
    a, b = one.wait(1)[0], two.wait(1)[0]
    assert a["data"].endswith(body.encode()) and b["data"].endswith(body.encode())
    assert a["rcpts"] == ["a@one.test"] and b["rcpts"] == ["b@two.test"]
    wait_queue_empty(srv)


def test_a_silent_destination_does_not_hold_up_the_others(server_factory, sink_factory, dnsmasq_factory):
    # early.test's MX accepts the connection and never greets; late.test has a
    # route to the sink. early.test sorts first (as a domain and as a hop), so
    # delivering one destination after the other would wait out the 60 s
    # banner timeout.
    sink = sink_factory()
    bad = BadServer("silent")
    dns = dnsmasq_factory(["--mx-host=early.test,mail.early.test,10", "--host-record=mail.early.test,127.0.0.1"])
    try:
        srv = server_factory(delivery=(
            f'enabled = true\nresolvers = ["127.0.0.1:{dns.port}"]\nmx_port = {bad.port}\n'
            f'routes = {{ "late.test" = "127.0.0.1:{sink.port}" }}\ncommand_timeout_s = 60\n'),
            limits="drain_timeout_s = 1\n")
        submit(srv, ["a@early.test", "b@late.test"])
        got = sink.wait(1, timeout=15, what="late.test's delivery")
        assert got[0]["rcpts"] == ["b@late.test"]
        wait_for(bad.accepted.is_set, 10, interval=0.05, what="early.test's connection")
        status = {r["address"]: r["status"] for r in queue(srv)[0]["recipients"]}
        assert status["a@early.test"] != "delivered", status
        # Stopping while early.test still waits for its banner: the drain
        # ends it, and the next start tries it again.
        started = time.monotonic()
        assert srv.stop() == 0
        assert time.monotonic() - started < 10
    finally:
        bad.close()


def test_address_literal_is_delivered_to_that_address(server_factory, sink_factory, dnsmasq_factory):
    sink = sink_factory()
    dns = dnsmasq_factory([])  # no records: an MX lookup of the literal would fail
    srv = server_factory(delivery=f'enabled = true\nresolvers = ["127.0.0.1:{dns.port}"]\nmx_port = {sink.port}\n')
    submit(srv, ["bob@[127.0.0.1]"])
    got = sink.wait(1)
    assert got[0]["rcpts"] == ["bob@[127.0.0.1]"]
    wait_queue_empty(srv)
