"""Several nodes (issue 15, SPEC §6): two real `smtpsd serve` processes on one
private PostgreSQL and one private Redis (tests/integration/services.py).
Accounts, limits and AUTH failures are shared; every message is delivered
once; a node killed mid-delivery leaves its messages to the other after
`lease_s`; PostgreSQL restarting loses no 250."""
import email
import smtplib
import threading
import time
import uuid

import pytest

from conftest import PASSWORD, Server, config_text, run_cli, wait_for

FROM = "alice@example.com"


def storage(pg_url, redis_url, node):
    return (f'[storage]\nbackend = "postgres"\npostgres_url = "{pg_url}"\nredis_url = "{redis_url}"\n'
            f'node = "{node}"\n')


@pytest.fixture
def cluster(tmp_path, postgres, redis):
    started = []

    def make(delivery="enabled = false\n", limits="", auth="", account_limits=(), extra=""):
        url = postgres.database("c" + uuid.uuid4().hex[:12])
        nodes = []
        for name in ("a", "b"):
            root = tmp_path / name
            run_cli("init", str(root), "--hostname", "localhost")
            nodes.append(Server(root, config_text(delivery=delivery, limits=limits, auth=auth,
                                                  extra=storage(url, redis.url, name) + extra), name=name))
        a = nodes[0]
        a.cli("account", "add", "acme", *account_limits)  # made on A, stored in PostgreSQL
        a.cli("identity", "add", "acme", "example.com")
        a.cli("credential", "add", "acme", "--username", "alice", "--password-stdin", input=PASSWORD + "\n")
        for n in nodes:
            started.append(n)
            n.start()
        return nodes

    yield make
    for n in started:
        n.kill()


def send(srv, to="bob@example.org", mid=None):
    mid = mid or f"<{uuid.uuid4().hex}@cluster.test>"
    body = f"From: {FROM}\r\nTo: {to}\r\nMessage-ID: {mid}\r\nSubject: cluster\r\n\r\nHello.\r\n"
    with srv.smtp_ssl() as s:
        s.login("alice", PASSWORD)
        s.sendmail(FROM, [to], body)
    return mid


def rcpt_reply(srv, to="bob@example.org"):
    """The RCPT reply; the connection then closes, giving the recipient back."""
    with srv.smtp_ssl() as s:
        s.login("alice", PASSWORD)
        s.mail(FROM)
        return s.rcpt(to)


def test_an_account_made_on_a_works_on_b_and_changes_reach_b_within_2s(cluster):
    a, b = cluster()
    send(b)
    assert len(b.cli_json("queue", "list")) == 1, "B queued into the shared store"
    assert len(a.cli_json("queue", "list")) == 1, "A sees the same queue"
    a.cli("account", "set", "acme", "--suspended", "true")
    t0 = time.monotonic()

    def refused_on_b():
        try:
            send(b)
        except smtplib.SMTPException:
            return True
        return False

    wait_for(refused_on_b, 2.0, interval=0.1, what="the suspension to reach node B")
    assert time.monotonic() - t0 <= 2.5
    a.cli("account", "set", "acme", "--suspended", "false")
    wait_for(lambda: not refused_on_b(), 2.0, interval=0.1, what="the release to reach node B")


def test_daily_quota_and_send_rate_hold_across_both_nodes(cluster):
    a, b = cluster(account_limits=("--max-24h", "3", "--max-send-rate", "1000"))
    send(a)
    send(b)
    send(a)
    code, msg = rcpt_reply(b)
    assert (code, msg) == (454, b"4.7.0 Throttling failure: Daily message quota exceeded."), (code, msg)
    a.cli("account", "set", "acme", "--max-24h", "1000", "--max-send-rate", "0.1")
    time.sleep(1.2)  # the change reaches both nodes; the bucket holds one token, refilled in 10 s
    with a.smtp_ssl() as sa, b.smtp_ssl() as sb:  # both transactions open: neither gives its recipient back
        for s in (sa, sb):
            s.login("alice", PASSWORD)
            s.mail(FROM)
        first = sa.rcpt("bob@example.org")
        second = sb.rcpt("bob@example.org")
    assert first[0] == 250, first
    assert second == (454, b"4.7.0 Throttling failure: Maximum sending rate exceeded."), second


def test_auth_failures_on_a_throttle_the_address_on_b(cluster):
    a, b = cluster(auth="failures_before_throttle = 2\nfailure_window_s = 600\n")
    with a.smtp_ssl() as s:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            s.login("alice", "wrong password")  # smtplib tries PLAIN, then LOGIN: two failures
    assert "failure 2 of 2 from 127.0.0.1" in a.log()
    with pytest.raises(smtplib.SMTPConnectError) as e:
        b.smtp_ssl()  # B counts the failures A saw: the address is refused at once
    assert (e.value.smtp_code, e.value.smtp_error[:5]) == (421, b"4.7.0"), e.value


def submit_many(nodes, count, threads=4):
    accepted, lock = [], threading.Lock()

    def worker(idx):
        srv = nodes[idx % len(nodes)]
        n = 0
        with srv.smtp_ssl() as s:
            s.login("alice", PASSWORD)
            for i in range(idx, count, threads):
                mid = f"<m{i}@cluster.test>"
                s.sendmail(FROM, [f"u{i}@example.org"],
                           f"From: {FROM}\r\nTo: u{i}@example.org\r\nMessage-ID: {mid}\r\n\r\nbody {i}\r\n")
                n += 1
                with lock:
                    accepted.append(mid)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(600)
    return accepted


def received_ids(sink):
    out = {}
    for m in sink.received():
        mid = email.message_from_bytes(m["data"])["Message-ID"]
        out[mid] = out.get(mid, 0) + 1
    return out


def test_a_thousand_messages_through_both_nodes_are_each_delivered_once(cluster, sink_factory):
    sink = sink_factory()
    a, b = cluster(delivery=f'enabled = true\nroutes = {{ "*" = "127.0.0.1:{sink.port}" }}\nlease_s = 30\n',
                   limits="default_max_send_rate = 100000\n")
    accepted = submit_many([a, b], 1000)
    assert len(accepted) == 1000
    wait_for(lambda: len(sink.received()) >= 1000, 300, interval=0.5, what="1000 deliveries")
    wait_for(lambda: a.cli_json("queue", "list") == [], 60, interval=0.5, what="the queue to drain")
    got = received_ids(sink)
    assert set(got) == set(accepted)
    assert [mid for mid, n in got.items() if n > 1] == [], "no message delivered twice"
    delivered_by = {n.root.name: n.log().count('result=delivered') for n in (a, b)}
    assert all(v > 0 for v in delivered_by.values()), f"both nodes delivered: {delivered_by}"


def test_kill_9_of_a_mid_delivery_leaves_its_messages_to_b_after_the_lease(cluster, sink_factory):
    sink = sink_factory(data_delay=3.0)  # deliveries stay in flight long enough to kill A among them
    a, b = cluster(delivery=f'enabled = true\nroutes = {{ "*" = "127.0.0.1:{sink.port}" }}\nlease_s = 5\n',
                   limits="default_max_send_rate = 100000\n")
    b.stop()  # only A delivers at first
    accepted = submit_many([a], 20, threads=2)
    wait_for(lambda: sink.data_started > 0, 30, interval=0.05, what="A's deliveries to start")
    a.kill()
    killed_at = time.monotonic()
    b.start()
    wait_for(lambda: set(received_ids(sink)) >= set(accepted), 120, interval=0.2,
             what="B to deliver what A held")
    assert time.monotonic() - killed_at >= 4, "B waited for A's leases to run out"
    assert "result=delivered" in b.log()


def test_postgresql_restarting_during_submission_loses_no_250(cluster, sink_factory, postgres):
    sink = sink_factory()
    a, b = cluster(delivery=f'enabled = true\nroutes = {{ "*" = "127.0.0.1:{sink.port}" }}\nlease_s = 5\n',
                   limits="default_max_send_rate = 100000\n")
    accepted, refused, stop = [], [], threading.Event()

    def client(srv, idx):
        n = 0
        while not stop.is_set():
            try:
                with srv.smtp_ssl() as s:
                    s.login("alice", PASSWORD)
                    while not stop.is_set():
                        n += 1
                        mid = f"<r{idx}-{n}@cluster.test>"
                        s.mail(FROM)
                        s.rcpt(f"u{idx}@example.org")
                        code, _ = s.data(f"From: {FROM}\r\nTo: u@example.org\r\nMessage-ID: {mid}\r\n\r\nx\r\n")
                        (accepted if code == 250 else refused).append((mid, code))
            except (OSError, smtplib.SMTPException) as e:
                refused.append((None, str(e)[:80]))
                time.sleep(0.05)

    ts = [threading.Thread(target=client, args=(n, i)) for i, n in enumerate((a, b, a, b))]
    for t in ts:
        t.start()
    wait_for(lambda: len(accepted) > 20, 60, interval=0.05, what="messages before the restart")
    postgres.restart()
    before = len(accepted)
    wait_for(lambda: len(accepted) > before + 20, 60, interval=0.05, what="messages after the restart")
    stop.set()
    for t in ts:
        t.join(60)
    wait_for(lambda: set(received_ids(sink)) >= {m for m, _ in accepted}, 120, interval=0.5,
             what="every accepted message delivered")
    assert all(code != 250 for _, code in refused)


def test_a_wrong_postgres_url_stops_start_up_with_libpqs_reason(tmp_path, postgres):
    root = tmp_path / "n"
    run_cli("init", str(root), "--hostname", "localhost")
    bad = postgres.url("no_such_database")
    srv = Server(root, config_text(extra=f'[storage]\nbackend = "postgres"\npostgres_url = "{bad}"\n'), name="n")
    p = run_cli("serve", config=srv.config, check=False)
    assert p.returncode != 0
    assert "storage.postgres_url" in p.stderr and 'database "no_such_database" does not exist' in p.stderr, p.stderr


def test_redis_down_gives_451_and_the_node_reconnects(cluster, redis):
    a, b = cluster()
    send(a)
    redis.stop()
    code, msg = rcpt_reply(a)
    assert (code, msg[:5]) == (451, b"4.3.0"), (code, msg)
    redis.start()
    wait_for(lambda: rcpt_reply(a)[0] == 250, 10, interval=0.2, what="the node to reconnect to Redis")


def test_one_node_posts_the_webhooks(cluster):
    from receiver import Receiver
    r = Receiver()
    try:
        a, b = cluster(extra=f'[[events.webhooks]]\nurl = "{r.url}"\nsecret = "s3cret-s3cret-s3cret"\n')
        sent = [send(n) for n in (a, b, a, b)]
        wait_for(lambda: len([q for q in r.taken() if q["json"].get("type") == "send"]) >= 4, 30, interval=0.1,
                 what="the four send events")
        time.sleep(2)  # a second poster, if any, would have posted by now
        ids = [q["json"]["event_id"] for q in r.taken()]
        assert len(ids) == len(set(ids)), "each event posted once, by the node holding the webhook role"
        got = {q["json"]["message_id"] for q in r.taken() if q["json"]["type"] == "send"}
        assert got >= {m.strip("<>") for m in sent} or got >= set(sent), (got, sent)
    finally:
        r.close()


def test_dkim_keys_made_on_a_sign_on_b(cluster, sink_factory):
    sink = sink_factory()
    a, b = cluster(delivery=f'enabled = true\nroutes = {{ "*" = "127.0.0.1:{sink.port}" }}\n')
    keys = a.cli_json("identity", "list", "acme")  # `identity add` on A made the pair, in PostgreSQL
    assert not (b.root / "data" / "dkim").exists(), "no key files on the nodes"
    send(b)
    wait_for(lambda: sink.received(), 30, what="the message from B")
    msg = email.message_from_bytes(sink.received()[0]["data"])
    sigs = msg.get_all("DKIM-Signature")
    assert sigs and any("d=example.com" in s and "s=smtpsd1e" in s for s in sigs), (sigs, keys)
