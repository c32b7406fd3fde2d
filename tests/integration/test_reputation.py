"""Sender reputation (issue 18, SPEC §9): the sandbox, the VERP return path
and the inbound listener that turns DSNs and ARF reports into events,
suppressions and rates, the automatic pause and `account resume`, the
duplicate-submission guard, and `policy explain` against real submissions."""
import json
import re
import smtplib
import socket
import time

from api_client import Api, make_token
from conftest import PASSWORD, metrics, wait_for

FROM = "alice@example.com"
BOUNCE_DOMAIN = "bounces.example.com"
VERP = re.compile(r"^b\+([0-9A-Z]{16})-([0-9a-z]{24})@bounces\.example\.com$")
PAUSED = re.compile(r"^550 5\.7\.1 Sending paused for account acme: bounce rate 50\.0 % over the last 2 recipients$")

LISTENERS = [("127.0.0.1:0", "implicit-tls"), ("127.0.0.1:0", "starttls"), ("127.0.0.1:0", "inbound")]
INBOUND = 2  # port index


def events(srv):
    path = srv.root / "data" / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def of_type(srv, t):
    return [e for e in events(srv) if e["type"] == t]


def reply_text(r):
    code, text = r
    return f"{code} {text.decode()}"


def login(srv):
    s = srv.smtp_ssl()
    s.login("alice", PASSWORD)
    return s


def message(to, subject="hello", extra=""):
    return f"From: {FROM}\r\nTo: {', '.join(to)}\r\nSubject: {subject}\r\n{extra}\r\nHello.\r\n"


def inbound_send(srv, mail_from, rcpts, data):
    """Delivers to the inbound listener as a receiving MTA would: plain SMTP, no AUTH."""
    with smtplib.SMTP("127.0.0.1", srv.ports[INBOUND], timeout=30) as s:
        s.ehlo("mx.example.net")
        code, _ = s.mail(mail_from)
        assert code == 250
        for r in rcpts:
            assert s.rcpt(r)[0] == 250, r
        return s.data(data)


def dsn(verp, rcpt, status="5.1.1", diagnostic="550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown"):
    diagnostic = diagnostic.format(rcpt=rcpt)
    return (
        f"From: MAILER-DAEMON@mx.example.net\r\nTo: {verp}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="DSN-1"\r\n\r\n'
        "--DSN-1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--DSN-1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Remote-MTA: dns; mx.example.net\r\nDiagnostic-Code: smtp; {diagnostic}\r\n\r\n"
        "--DSN-1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Return-Path: <{verp}>\r\nFrom: {FROM}\r\nTo: {rcpt}\r\nMessage-ID: <first@example.com>\r\n"
        "--DSN-1--\r\n")


def arf(verp, rcpt):
    return (
        "From: fbl@isp.example\r\nTo: fbl@bounces.example.com\r\nSubject: complaint\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="ARF-1"\r\n\r\n'
        "--ARF-1\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report.\r\n"
        "--ARF-1\r\nContent-Type: message/feedback-report\r\n\r\n"
        "Feedback-Type: abuse\r\nUser-Agent: isp-fbl/1.0\r\nVersion: 1\r\n"
        f"Original-Rcpt-To: <{rcpt}>\r\nSource-IP: 192.0.2.10\r\n\r\n"
        "--ARF-1\r\nContent-Type: message/rfc822\r\n\r\n"
        f"Return-Path: <{verp}>\r\nFrom: {FROM}\r\nTo: {rcpt}\r\nMessage-ID: <second@example.com>\r\n"
        "Subject: hello\r\n\r\nHello.\r\n--ARF-1--\r\n")


def reputation(srv):
    return srv.cli_json("account", "show", "acme")["reputation"]


def test_sandbox_limits_allowed_recipients_and_release(server_factory):
    srv = server_factory(limits="sandbox_new_accounts = true\n")
    acct = srv.cli_json("account", "show", "acme")
    assert acct["sandbox"] is True, "sandbox_new_accounts puts a new account in the sandbox"
    assert (acct["max_send_rate"], acct["max_24h"]) == (1, 200), "SES's sandbox figures"
    with login(srv) as s:
        s.mail(FROM)
        code, text = s.rcpt("bob@example.org")
        assert code == 550 and text.startswith(b"5.7.1") and b"sandbox" in text, text
        assert s.rcpt("carol@example.com")[0] == 250, "its own identity's addresses are allowed"
        s.rset()
        time.sleep(1.05)  # one recipient per second: the next one is under test
        srv.cli("account", "allow-recipient", "acme", "Bob@Example.org")
        s.mail(FROM)
        assert s.rcpt("bob@example.org")[0] == 250, "an allowed recipient"
        assert reply_text(s.rcpt("carol@example.com")) == \
            "454 4.7.0 Throttling failure: Maximum sending rate exceeded.", "1 recipient per second"
        s.rset()
    assert srv.cli_json("account", "show", "acme")["allowed_recipients"] == ["bob@example.org"]
    rej = [e for e in of_type(srv, "reject") if e["reason"] == "sandbox"]
    assert rej and rej[0]["recipients"] == ["bob@example.org"]

    released = srv.cli_json("account", "set", "acme", "--sandbox", "false")
    assert released["sandbox"] is False and released["max_24h"] == 50000
    time.sleep(1.05)
    with login(srv) as s:
        s.mail(FROM)
        assert s.rcpt("dave@example.org")[0] == 250, "released: any recipient"
        for i in range(3):
            assert s.rcpt(f"r{i}@example.org")[0] == 250, "released: the default rate"
    assert wait_for(lambda: metrics(srv).get('smtpsd_messages_rejected_total{reason="sandbox"}') == 1)


def verp_server(server_factory, sink, extra_reputation="min_recipients = 2\n", extra_bounces=""):
    return server_factory(
        listeners=LISTENERS,
        delivery=f'enabled = true\nroutes = {{ "*" = "127.0.0.1:{sink.port}" }}\n',
        extra=f'[bounces]\ndomain = "{BOUNCE_DOMAIN}"\n{extra_bounces}[reputation]\n{extra_reputation}')


def test_verp_dsn_and_arf_become_events_suppressions_rates_and_a_pause(server_factory, sink_factory):
    sink = sink_factory()
    srv = verp_server(server_factory, sink)
    records = srv.cli_json("identity", "add", "acme", "other.example")["dns_records"]
    assert {"name": BOUNCE_DOMAIN, "type": "MX", "value": "10 mail.test"} in records
    assert any(r["name"] == BOUNCE_DOMAIN and r["value"].startswith("v=spf1") for r in records)

    with login(srv) as s:
        s.sendmail(FROM, ["rcpt1@example.org", "rcpt2@example.org"], message(["rcpt1@example.org", "rcpt2@example.org"]))
    got = sink.wait(2)
    by_rcpt = {m["rcpts"][0]: m for m in got}
    assert sorted(by_rcpt) == ["rcpt1@example.org", "rcpt2@example.org"], "one transaction per recipient (VERP)"
    verps = {r: by_rcpt[r]["from"] for r in by_rcpt}
    qid = None
    for r, v in verps.items():
        m = VERP.match(v)
        assert m, v
        qid = qid or m.group(1)
        assert m.group(1) == qid, "the queue id is in the return path"
    assert verps["rcpt1@example.org"] != verps["rcpt2@example.org"]
    assert b"From: alice@example.com" in got[0]["data"], "the From: header is the sender's"
    wait_for(lambda: reputation(srv)["recipients"] == 2, timeout=15, what="the deliveries counted")

    # A relay attempt and AUTH on the inbound listener are refused.
    with smtplib.SMTP("127.0.0.1", srv.ports[INBOUND], timeout=30) as s:
        assert b"AUTH" not in s.ehlo("mx.example.net")[1]
        assert s.docmd("AUTH PLAIN AGFsaWNlAHg=")[0] == 503
        s.mail("")
        code, text = s.rcpt("victim@example.org")
        assert code == 550 and text.startswith(b"5.7.1 Relaying denied"), text

    # A DSN for rcpt1 to its return path: a bounce event, a suppression, the bounce rate, the pause.
    code, text = inbound_send(srv, "", [verps["rcpt1@example.org"]], dsn(verps["rcpt1@example.org"], "rcpt1@example.org"))
    assert code == 250, text
    bounce = wait_for(lambda: of_type(srv, "bounce"), what="the bounce event")[0]
    assert bounce["queue_id"] == qid and bounce["account"] == "acme"
    assert bounce["recipients"] == ["rcpt1@example.org"]
    assert (bounce["bounce_type"], bounce["bounce_sub_type"]) == ("Permanent", "General")
    assert bounce["smtp_response"].startswith("550 5.1.1 <rcpt1@example.org>")
    assert bounce["remote_mta"] == "mx.example.net" and bounce["message_id"] == "<first@example.com>"
    sup = {x["address"]: x["reason"] for x in srv.cli_json("suppression", "list")}
    assert sup["rcpt1@example.org"].startswith("bounce: 550 5.1.1")
    rep = reputation(srv)
    assert (rep["recipients"], rep["bounces"], rep["status"]) == (2, 1, "paused")

    # Paused: MAIL gets the exact reply; an event and a metric say so.
    with login(srv) as s:
        assert PAUSED.match(reply_text(s.mail(FROM))), "the pause reply"
    paused = of_type(srv, "reputation")
    assert len(paused) == 1 and paused[0]["status"] == "paused" and paused[0]["account"] == "acme"
    assert paused[0]["reason"] == "bounce rate 50.0 % over the last 2 recipients"
    assert PAUSED.match(paused[0]["smtp_response"]), "the event carries the reply MAIL now gets"
    assert metrics(srv)['smtpsd_reputation_changes_total{status="paused",metric="bounce"}'] == 1
    assert srv.cli_json("account", "show", "acme")["paused"] == "bounce rate 50.0 % over the last 2 recipients"
    api = Api(srv, make_token(srv))
    shown = api.get("/api/v1/accounts/acme")
    assert shown["paused"] == "bounce rate 50.0 % over the last 2 recipients"
    assert (shown["reputation"]["status"], shown["reputation"]["bounce_rate"]) == ("paused", 0.5)
    explained = api.get(f"/api/v1/accounts/acme/explain?from={FROM}&to=rcpt9@example.org")
    assert PAUSED.match(explained["reply"]), "policy explain gives the pause reply too"
    api.close()

    # An ARF complaint for rcpt2, sent to another address at the bounce domain:
    # the original's Return-Path names the message.
    code, _ = inbound_send(srv, "fbl@isp.example", [f"fbl@{BOUNCE_DOMAIN}"], arf(verps["rcpt2@example.org"], "rcpt2@example.org"))
    assert code == 250
    complaint = wait_for(lambda: of_type(srv, "complaint"), what="the complaint event")[0]
    assert complaint["recipients"] == ["rcpt2@example.org"] and complaint["queue_id"] == qid
    assert complaint["feedback_type"] == "abuse" and complaint["account"] == "acme"
    sup = {x["address"]: x["reason"] for x in srv.cli_json("suppression", "list")}
    assert sup["rcpt2@example.org"] == "complaint: abuse"
    assert reputation(srv)["complaints"] == 1
    m = metrics(srv)
    assert m['smtpsd_inbound_reports_total{kind="dsn",result="recorded"}'] == 1
    assert m['smtpsd_inbound_reports_total{kind="arf",result="recorded"}'] == 1

    # Resumed by the CLI: sending again, and the old bounces do not pause it at once.
    assert srv.cli_json("account", "resume", "acme")["paused"] is None
    with login(srv) as s:
        assert s.mail(FROM)[0] == 250
        assert s.rcpt("rcpt3@example.org")[0] == 250


def test_forged_and_unknown_return_paths_are_ignored(server_factory, sink_factory):
    sink = sink_factory()
    srv = verp_server(server_factory, sink)
    with login(srv) as s:
        s.sendmail(FROM, ["rcpt1@example.org"], message(["rcpt1@example.org"]))
    verp = sink.wait(1)[0]["from"]
    m = VERP.match(verp)
    tag = m.group(2)
    forged_tag = tag[:7] + ("a" if tag[7] != "a" else "b") + tag[8:]  # the HMAC over (queue id, account) breaks
    forged = f"b+{m.group(1)}-{forged_tag}@{BOUNCE_DOMAIN}"
    assert inbound_send(srv, "", [forged], dsn(forged, "rcpt1@example.org"))[0] == 250
    # Another recipient's address in a report to a real return path: the recipient tag does not match it.
    assert inbound_send(srv, "", [verp], dsn(verp, "someone-else@example.org"))[0] == 250
    assert inbound_send(srv, "", [f"nobody@{BOUNCE_DOMAIN}"], dsn(f"nobody@{BOUNCE_DOMAIN}", "x@example.org"))[0] == 250
    # Garbage and deep nesting: counted, never a crash.
    nested = "".join(f"Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n" for i in range(200))
    assert inbound_send(srv, "", [verp], nested)[0] == 250
    wait_for(lambda: metrics(srv).get('smtpsd_inbound_reports_total{kind="dsn",result="forged"}') == 1,
             what="the forged report counted")
    m = metrics(srv)
    assert m['smtpsd_inbound_reports_total{kind="dsn",result="no_return_path"}'] == 1
    assert m['smtpsd_inbound_reports_total{kind="unknown",result="not_a_report"}'] == 1
    suppressed = [x["address"] for x in srv.cli_json("suppression", "list")]
    assert "rcpt1@example.org" not in suppressed, "a forged report suppresses nothing"
    assert "someone-else@example.org" not in suppressed, "nor does one naming another recipient"
    bounces = of_type(srv, "bounce")
    assert all(b["recipients"] == [] for b in bounces), "no bounce is pinned on rcpt1"
    assert reputation(srv)["bounces"] == len(bounces)
    assert len(sink.received()) == 1, "the inbound listener relays nothing"


def test_a_report_is_read_from_its_first_max_report_bytes(server_factory, sink_factory):
    sink = sink_factory()
    srv = verp_server(server_factory, sink, extra_bounces="max_report_bytes = 65536\n")
    with login(srv) as s:
        s.sendmail(FROM, ["rcpt1@example.org"], message(["rcpt1@example.org"]))
    verp = sink.wait(1)[0]["from"]
    # A DSN that returns a 3 MiB original: taken whole, read from its first 64 KiB.
    big = dsn(verp, "rcpt1@example.org").replace("--DSN-1--\r\n", "--DSN-1\r\nContent-Type: message/rfc822\r\n\r\n"
                                                 "Subject: big\r\n\r\n" + ("x" * 998 + "\r\n") * 3000 + "--DSN-1--\r\n")
    assert len(big) > 3_000_000
    assert inbound_send(srv, "", [verp], big)[0] == 250
    bounce = wait_for(lambda: of_type(srv, "bounce"), what="the bounce event")[0]
    assert bounce["recipients"] == ["rcpt1@example.org"]


def test_resubmission_after_a_client_timeout_is_not_queued_twice(server):
    body = (f"From: {FROM}\r\nTo: bob@example.org\r\nSubject: once\r\nMessage-ID: <dup-1@example.com>\r\n"
            "\r\nOnly once, please.\r\n")
    # The first try: the data is sent and the client goes away before reading the 250.
    c = server.raw()
    c.line()
    c.login("alice", PASSWORD)
    c.send(f"MAIL FROM:<{FROM}>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n")
    for _ in range(3):
        c.reply()
    c.send(body + ".\r\n")
    c.close()
    first = wait_for(lambda: server.cli_json("queue", "list"), what="the first submission queued")
    assert len(first) == 1
    # The client retries the same message: 250 with the first id, nothing queued twice.
    with login(server) as s:
        s.mail(FROM)
        s.rcpt("bob@example.org")
        code, text = s.data(body)
        assert code == 250 and text.decode().endswith("queued as " + first[0]["id"]), text
        # The same Message-ID with other content is another message.
        s.mail(FROM)
        s.rcpt("bob@example.org")
        code, text = s.data(body.replace("Only once", "Twice"))
        assert code == 250 and first[0]["id"] not in text.decode()
    assert len(server.cli_json("queue", "list")) == 2
    assert metrics(server)["smtpsd_duplicate_submissions_total"] == 1
    assert server.cli_json("account", "show", "acme")["sent_last_24h"] == 2, "the resubmission is not counted"


def explain(srv, to, frm=FROM, size=None):
    args = ["policy", "explain", "acme", "--from", frm, "--to", to]
    if size is not None:
        args += ["--size", str(size)]
    return srv.cli_json(*args)


def real_reply(srv, to, frm=FROM, size=None):
    """The first refusal a real submission gets (or its final 250), as one line."""
    with login(srv) as s:
        opts = [f"SIZE={size}"] if size is not None else []
        r = s.mail(frm, opts)
        if r[0] != 250:
            return reply_text(r)
        r = s.rcpt(to)
        if r[0] != 250:
            return reply_text(r)
        code, text = s.data(f"From: {frm}\r\nTo: {to}\r\nMessage-ID: <{time.monotonic_ns()}@example.com>\r\n\r\nhi\r\n")
        return f"{code} {text.decode()}"


def test_policy_explain_matches_real_submissions(server_factory):
    srv = server_factory(limits="max_message_bytes = 100000\n")
    srv.cli("suppression", "add", "gone@example.org")

    def check(to, failing, frm=FROM, size=None, prefix=None):
        j = explain(srv, to, frm, size)
        names = [c["check"] for c in j["checks"]]
        assert names == ["account", "reputation", "identity", "size", "sandbox", "suppression", "rate", "quota"], names
        failed = [c["check"] for c in j["checks"] if c["verdict"] == "fail"]
        assert failed == failing, (to, j)
        real = real_reply(srv, to, frm, size)
        if failing:
            assert j["reply"] == real, (j["reply"], real)
        else:
            assert real.startswith("250 2.0.0 Ok: queued as") and j["reply"].startswith("250")
        return j

    check("bob@example.org", [])
    check("bob@example.org", ["identity"], frm="mallory@evil.example")
    check("gone@example.org", ["suppression"])
    check("bob@example.org", ["size"], size=200000)
    srv.cli("account", "set", "acme", "--sandbox", "true")
    check("bob@example.org", ["sandbox"])
    srv.cli("account", "set", "acme", "--sandbox", "false", "--max-24h", "1")
    check("bob@example.org", ["quota"])  # one already sent: the 24-hour quota is spent
    text = srv.cli("policy", "explain", "acme", "--from", FROM, "--to", "bob@example.org").stdout
    assert "quota" in text and "reply: 454 4.7.0 Throttling failure: Daily message quota exceeded." in text
    assert srv.cli_json("account", "show", "acme")["sent_last_24h"] == 1, "explain counts nothing"
    # One recipient per 100 s: after one, the bucket is empty for both.
    srv.cli("account", "set", "acme", "--max-24h", "default", "--max-send-rate", "0.01")
    assert real_reply(srv, "bob@example.org").startswith("250 ")
    check("bob@example.org", ["rate"])
