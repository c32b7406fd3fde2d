"""Events leave the box (issue 13): webhooks over HTTP and HTTPS with
signatures, at least once through a receiver that is down, failing and
healthy again with a kill -9 of smtpsd in between, dead letters, the SES
format, configuration sets and tags, reject events, every metric at zero."""
import json
import signal
import smtplib
import urllib.request
from pathlib import Path

import pytest

from conftest import PASSWORD, metrics, wait_for
from receiver import Receiver, verify

FROM = "alice@example.com"
SECRET = "s3cret-for-tests"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ses"


def webhook(url, name=None, fmt="smtpsd", extra=""):
    text = f'[[events.webhooks]]\nurl = "{url}"\nsecret = "{SECRET}"\nformat = "{fmt}"\nmax_backoff_s = 1\ntimeout_s = 3\n'
    if name:
        text += f'name = "{name}"\n'
    return text + extra


def submit(srv, to, headers="", sender=FROM):
    body = f"From: {sender}\r\nTo: {', '.join(to)}\r\nSubject: events\r\n{headers}\r\nHello.\r\n"
    with srv.smtp_ssl() as s:
        s.login("alice", PASSWORD)
        s.sendmail(sender, to, body)


def journal(srv):
    path = srv.root / "data" / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def stored(srv):
    return srv.cli_json("events", "tail", "-n", "10000")


@pytest.fixture
def receiver_factory(tmp_path):
    made = []

    def factory(**kw):
        r = Receiver(**kw)
        made.append(r)
        return r

    yield factory
    for r in made:
        r.close()


def test_every_event_type_arrives_signed_over_https_and_in_ses_format(server_factory, sink_factory, receiver_factory,
                                                                       tmp_path):
    https = receiver_factory(tls_folder=tmp_path / "tls")
    ses = receiver_factory()
    sink = sink_factory()
    srv = server_factory(
        delivery=f'enabled = true\nroutes = {{ "*" = "127.0.0.1:{sink.port}" }}\nmax_queue_age_s = 3600\n',
        extra=webhook(https.url, extra=f'ca_file = "{https.ca}"\n') + webhook(ses.url, name="ses", fmt="ses"))
    submit(srv, ["bob@example.org", "reject-carol@example.org", "temp-dave@example.org"])
    with srv.smtp_ssl() as s:  # a reject: the sender is not an identity of the account
        s.login("alice", PASSWORD)
        with pytest.raises(smtplib.SMTPSenderRefused):
            s.sendmail("mallory@evil.example", ["bob@example.org"], "From: mallory@evil.example\r\n\r\nx\r\n")
    want = {"send", "delivery", "bounce", "delivery_delay", "reject"}
    wait_for(lambda: want <= {r["json"]["type"] for r in https.taken()}, 30, what="every event type over HTTPS")
    for r in https.taken():
        assert verify(SECRET, r), r["headers"]
        assert r["headers"]["Content-Type"] == "application/json"
        assert r["headers"]["Smtpsd-Event-Id"] == r["json"]["event_id"]
        assert set(r["json"]) >= {"type", "event_id", "time", "queue_id", "message_id", "account", "from", "recipients",
                                  "smtp_response", "remote_mta", "configuration_set", "tags"}
    by_type = {r["json"]["type"]: r["json"] for r in https.taken()}
    assert by_type["bounce"]["recipients"] == ["reject-carol@example.org"]
    assert (by_type["bounce"]["bounce_type"], by_type["bounce"]["bounce_sub_type"]) == ("Permanent", "General")
    assert by_type["delivery_delay"]["recipients"] == ["temp-dave@example.org"]
    assert by_type["reject"]["from"] == "mallory@evil.example"
    assert by_type["reject"]["reason"] == "sender_not_authorized"

    # The same events in SES's shape.
    ses_names = {"send": "Send", "delivery": "Delivery", "bounce": "Bounce", "delivery_delay": "DeliveryDelay",
                 "reject": "Reject"}
    wait_for(lambda: set(ses_names.values()) <= {r["json"]["eventType"] for r in ses.taken()}, 30,
             what="every event type in SES format")
    for r in ses.taken():
        assert verify(SECRET, r)
        fixture = json.loads((FIXTURES / (next(k for k, v in ses_names.items() if v == r["json"]["eventType"]) +
                                          ".json")).read_text())
        same_shape(fixture, r["json"], "")
        if r["json"]["eventType"] != "Reject" and r["json"]["mail"]["sendingAccountId"]:  # not a DSN's
            assert r["json"]["mail"]["messageId"] and r["json"]["mail"]["sendingAccountId"] == "acme"
    bounce = next(r["json"] for r in ses.taken() if r["json"]["eventType"] == "Bounce")
    assert bounce["bounce"]["bouncedRecipients"][0]["emailAddress"] == "reject-carol@example.org"
    assert bounce["bounce"]["bouncedRecipients"][0]["status"] == "5.1.1"
    sent = next(r["json"] for r in ses.taken() if r["json"]["eventType"] == "Send")
    assert {"name": "Subject", "value": "events"} in sent["mail"]["headers"]
    assert sent["mail"]["commonHeaders"]["subject"] == "events"


def same_shape(want, got, path):
    """SES's names and JSON types (mail.tags and mail.commonHeaders are open maps)."""
    if want is None:
        assert got is None or isinstance(got, str), path
        return
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        assert isinstance(got, (int, float)) and not isinstance(got, bool), path
        return
    assert type(got) is type(want), f"{path}: {got!r}"
    if isinstance(want, dict):
        open_map = path in (".mail.tags", ".mail.commonHeaders")
        for k, v in want.items():
            if open_map and k not in got:
                continue
            assert k in got, f"{path}.{k} missing"
            same_shape(v, got[k], f"{path}.{k}")
        if not open_map:
            assert set(got) <= set(want), f"{path}: {set(got) - set(want)} not in SES's record"
    elif isinstance(want, list) and want and got:
        for g in got:
            same_shape(want[0], g, path + "[]")


def test_down_then_failing_then_healthy_with_kill_9_loses_nothing(server_factory, sink_factory, receiver_factory):
    r = receiver_factory()
    r.down()
    sink = sink_factory()
    srv = server_factory(delivery=f'enabled = true\nroutes = {{ "*" = "127.0.0.1:{sink.port}" }}\n',
                         extra=webhook(r.url))
    for i in range(5):
        submit(srv, [f"bob{i}@example.org"])
    wait_for(lambda: len(sink.messages) == 5, 20, what="the deliveries")
    wait_for(lambda: sum(e["type"] == "delivery" for e in stored(srv)) == 5, 20, what="the delivery events stored")
    wait_for(lambda: metrics(srv)["smtpsd_webhook_backlog"] >= 10, 10, what="the backlog to show")
    assert metrics(srv)['smtpsd_webhook_requests_total{result="network_error"}'] > 0

    srv.kill()  # kill -9, with everything still to send
    srv.start()
    r.status = 500
    r.up()
    for i in range(5, 8):
        submit(srv, [f"bob{i}@example.org"])
    wait_for(lambda: len(sink.messages) == 8, 20, what="the new deliveries")
    wait_for(lambda: sum(e["type"] == "delivery" for e in stored(srv)) == 8, 20, what="their events stored")
    wait_for(lambda: len(r.all()) >= 3, 20, what="requests answered 500")
    assert not r.taken()
    r.status = 200
    expected = {e["event_id"] for e in journal(srv)}
    assert len(expected) == 16, "8 sends and 8 deliveries"
    wait_for(lambda: expected <= {q["json"]["event_id"] for q in r.taken()}, 30, what="every event to arrive")
    bodies = {}
    for q in r.taken():
        bodies.setdefault(q["json"]["event_id"], set()).add(q["body"])
    assert all(len(b) == 1 for b in bodies.values()), "a duplicate is the same event, with the same event_id"
    assert set(bodies) == expected, "nothing else arrived"
    wait_for(lambda: metrics(srv)["smtpsd_webhook_backlog"] == 0, 10, what="the backlog to empty")
    assert not srv.cli_json("events", "dead-letters")


def test_a_400_dead_letters_and_redeliver_sends_it_again(server_factory, receiver_factory):
    r = receiver_factory()
    r.answers = [400]
    srv = server_factory(extra=webhook(r.url, name="hook"))
    submit(srv, ["bob@example.org"])
    wait_for(lambda: srv.cli_json("events", "dead-letters"), 20, what="the dead letter")
    dead = srv.cli_json("events", "dead-letters")
    assert len(dead) == 1
    assert dead[0]["webhook"] == "hook" and dead[0]["type"] == "send" and dead[0]["reason"] == "HTTP 400"
    assert len(r.all()) == 1, "a 400 is not retried"
    assert metrics(srv)["smtpsd_webhook_dead_letters_total"] == 1
    assert srv.cli_json("events", "redeliver", "--all")["redeliver"] == 1
    wait_for(lambda: r.taken(), 20, what="the redelivery")
    assert r.taken()[0]["json"]["event_id"] == dead[0]["event_id"]
    wait_for(lambda: not srv.cli_json("events", "dead-letters"), 10, what="the dead letter to go")


def test_configuration_set_and_tags(server_factory, sink_factory, receiver_factory):
    everything = receiver_factory()
    marketing = receiver_factory()
    sink = sink_factory()
    srv = server_factory(
        delivery=f'enabled = true\nroutes = {{ "*" = "127.0.0.1:{sink.port}" }}\n',
        extra=webhook(everything.url, extra='types = ["delivery"]\n') +
        f'[[configuration_sets]]\nname = "marketing"\n[[configuration_sets.webhooks]]\nurl = "{marketing.url}"\n'
        f'secret = "{SECRET}"\n')
    submit(srv, ["bob@example.org"],
           headers="X-SES-CONFIGURATION-SET: marketing\r\nX-SES-MESSAGE-TAGS: campaign=fall-2026, team=growth\r\n")
    wait_for(lambda: sink.messages, 20, what="the delivery")
    data = sink.messages[0]["data"]
    assert b"X-SES" not in data.upper() and b"fall-2026" not in data, "both headers are gone from the message"
    wait_for(lambda: {"send", "delivery"} <= {q["json"]["type"] for q in marketing.taken()}, 20,
             what="the set's webhook")
    for q in marketing.taken():
        assert q["json"]["configuration_set"] == "marketing"
        assert q["json"]["tags"] == {"campaign": "fall-2026", "team": "growth"}
        assert verify(SECRET, q)
    wait_for(lambda: everything.taken(), 20, what="the filtered global webhook")
    assert {q["json"]["type"] for q in everything.taken()} == {"delivery"}

    # A message without the header gets the account's default set.
    srv.cli("account", "set", "acme", "--configuration-set", "marketing")
    submit(srv, ["carol@example.org"])
    wait_for(lambda: any(q["json"]["recipients"] == ["carol@example.org"] for q in marketing.taken()), 20,
             what="the default set")
    # An unknown set is refused after the data.
    with srv.smtp_ssl() as s:
        s.login("alice", PASSWORD)
        with pytest.raises(smtplib.SMTPDataError) as e:
            s.sendmail(FROM, ["bob@example.org"],
                       f"From: {FROM}\r\nX-SES-CONFIGURATION-SET: nope\r\n\r\nx\r\n")
        assert e.value.smtp_code == 554
        assert e.value.smtp_error.decode() == "5.3.0 Configuration set nope does not exist"
    bad = srv.cli("account", "set", "acme", "--configuration-set", "nope", check=False)
    assert bad.returncode != 0 and "nope" in bad.stderr


def test_reject_events_name_what_was_refused(server_factory):
    srv = server_factory()
    srv.cli("suppression", "add", "gone@example.org")
    with srv.smtp_ssl() as s:
        s.login("alice", PASSWORD)
        assert s.docmd("MAIL FROM:<mallory@evil.example>")[0] == 550
        s.rset()
        assert s.docmd(f"MAIL FROM:<{FROM}>")[0] == 250
        assert s.docmd("RCPT TO:<gone@example.org>")[0] == 550
        assert s.docmd("RCPT TO:<bob@example.org>")[0] == 250
        code, _ = s.data(f"From: someone@else.example\r\nTo: bob@example.org\r\n\r\nx\r\n")
        assert code == 550
    wait_for(lambda: len([e for e in journal(srv) if e["type"] == "reject"]) == 3, 10, what="three reject events")
    mail, rcpt, data = [e for e in journal(srv) if e["type"] == "reject"]
    assert (mail["from"], mail["recipients"], mail["reason"]) == ("mallory@evil.example", [], "sender_not_authorized")
    assert (rcpt["from"], rcpt["recipients"], rcpt["reason"]) == (FROM, ["gone@example.org"], "suppressed")
    assert (data["from"], data["recipients"], data["reason"]) == (FROM, ["bob@example.org"], "header_from_not_authorized")
    for e in (mail, rcpt, data):
        assert e["account"] == "acme" and e["smtp_response"].startswith("550") and e["event_id"]
    assert {e["event_id"] for e in stored(srv) if e["type"] == "reject"} == {e["event_id"] for e in (mail, rcpt, data)}


SPEC_SERIES = [
    "smtpsd_tls_handshake_failures_total", "smtpsd_auth_successes_total", "smtpsd_auth_failures_total",
    "smtpsd_messages_accepted_total", "smtpsd_queue_messages", 'smtpsd_deliveries_total{result="delivered"}',
    'smtpsd_deliveries_total{result="deferred"}', 'smtpsd_deliveries_total{result="failed"}',
    'smtpsd_webhook_requests_total{result="success"}', 'smtpsd_webhook_requests_total{result="server_error"}',
    "smtpsd_webhook_backlog", 'smtpsd_messages_rejected_total{reason="send_rate"}',
    'smtpsd_messages_rejected_total{reason="daily_quota"}', 'smtpsd_messages_rejected_total{reason="suppressed"}',
    'smtpsd_messages_rejected_total{reason="sender_not_authorized"}', "smtpsd_commit_seconds_count",
    "smtpsd_delivery_attempt_seconds_count", "smtpsd_webhook_delivery_seconds_count",
    'smtpsd_commit_seconds_bucket{le="+Inf"}',
]


def test_every_metric_exists_at_zero_on_a_fresh_server(server_factory):
    srv = server_factory()
    m = metrics(srv)
    for name in SPEC_SERIES:
        assert m.get(name) == 0, name
    listeners = [k for k in m if k.startswith("smtpsd_connections_total{listener=")]
    assert len(listeners) == 2 and all(m[k] == 0 for k in listeners), listeners


def test_bad_webhook_configuration_names_the_line(server_factory):
    srv = server_factory(start=False)
    good = srv.config.read_text()
    for extra, words in [('[[events.webhooks]]\nurl = "not a url"\n', ["events.webhooks[0].url", "not an http"]),
                         ('[[events.webhooks]]\nurl = "http://x.example/"\nsecret_file = "missing"\n',
                          ["events.webhooks[0].secret_file", "cannot read"]),
                         ('[[events.webhooks]]\nurl = "http://x.example/"\ntypes = ["sent"]\n',
                          ["events.webhooks[0].types", "\"sent\" is not an event type"])]:
        srv.config.write_text(good + extra)
        p = srv.cli("account", "list", check=False)
        assert p.returncode != 0
        assert "smtpsd.toml:" in p.stderr and all(w in p.stderr for w in words), p.stderr
