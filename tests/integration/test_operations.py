"""Paths that worked without a test of their own (issue 19): operators'
commands reaching a running server, a queue entry expiring by itself, the
A/AAAA fallback of a domain without MX, STARTTLS to a receiving MX, and
NOTIFY=NEVER end to end."""
import email
import email.policy
import os
import smtplib
import ssl
import time
from pathlib import Path

import pytest

from conftest import BIN, PASSWORD, run_cli, wait_for
from test_delivery import events, queue, route_all, submit, wait_queue_empty


def deferred_ids(srv, n):
    def all_deferred():
        q = queue(srv)
        return len(q) == n and all(m["recipients"][0]["status"] == "deferred" for m in q) and q
    return [m["id"] for m in wait_for(all_deferred, 30, interval=0.1, what=f"{n} deferred messages")]


def dsns(sink):
    return [m for m in sink.received() if m["from"] in ("", "<>")]  # aiosmtpd gives the null sender as "<>"


def test_queue_remove_and_retry_all_from_the_cli(server_factory, sink_factory):
    sink = sink_factory()
    srv = server_factory(delivery=route_all(sink))
    for who in ("temp-a", "temp-b", "temp-c"):
        submit(srv, [f"{who}@example.org"])
    ids = deferred_ids(srv, 3)
    removed = next(m["id"] for m in queue(srv) if m["recipients"][0]["address"] == "temp-a@example.org")

    srv.cli("queue", "remove", removed)
    assert sorted(m["id"] for m in queue(srv)) == sorted(i for i in ids if i != removed)
    assert srv.cli("queue", "show", removed, check=False).returncode != 0

    sink.hold_temp = False
    srv.cli("queue", "retry", "--all")  # both are a minute from their next attempt
    got = sink.wait(2, timeout=20)
    assert sorted(r for m in got for r in m["rcpts"]) == ["temp-b@example.org", "temp-c@example.org"]
    wait_queue_empty(srv)
    assert len(sink.received()) == 2, "the removed message was never delivered"
    assert dsns(sink) == [], "removing a message is not a bounce"


def test_account_and_identity_removal_reach_the_running_server(server_factory):
    srv = server_factory()
    with srv.smtp_ssl() as s:
        s.login("alice", PASSWORD)
        assert s.mail("alice@example.com")[0] == 250
        s.rset()

    srv.cli("identity", "remove", "acme", "example.com")
    with srv.smtp_ssl() as s:
        s.login("alice", PASSWORD)
        code, text = s.mail("alice@example.com")
        assert code == 550 and text.startswith(b"5.7.1"), (code, text)

    srv.cli("account", "remove", "acme")
    with srv.smtp_ssl() as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login("alice", PASSWORD)
        assert e.value.smtp_code == 535
    assert srv.cli_json("account", "list") == []


def test_a_message_deferred_past_max_queue_age_expires_by_itself(server_factory, sink_factory):
    sink = sink_factory()
    srv = server_factory(delivery=route_all(sink, "max_queue_age_s = 3\n"))
    submit(srv, ["temp-late@example.org"], subject="too late")
    # The first attempt is deferred; the next is scheduled at the expiry, three
    # seconds after submission (not after the one-minute back-off), and fails.
    wait_queue_empty(srv, timeout=30)
    bounce = [e for e in events(srv) if e["type"] == "bounce"]
    assert len(bounce) == 1 and bounce[0]["recipients"] == ["temp-late@example.org"]
    assert bounce[0]["smtp_response"].startswith("451 4.4.7 Delivery time expired"), bounce[0]["smtp_response"]
    got = wait_for(lambda: dsns(sink), 20, interval=0.1, what="the DSN")
    assert len(got) == 1 and got[0]["rcpts"] == ["alice@example.com"]
    msg = email.message_from_bytes(got[0]["data"], policy=email.policy.default)
    status = next(p for p in msg.iter_parts() if p.get_content_type() == "message/delivery-status")
    text = status.as_string()
    assert "Action: failed" in text and "Status: 4.4.7" in text
    assert not srv.cli("suppression", "list", "--json").stdout.count("temp-late"), "an expiry is not a hard bounce"


def test_a_domain_without_mx_is_delivered_to_its_address_record(server_factory, sink_factory, dnsmasq_factory):
    sink = sink_factory()
    # --local: dnsmasq answers MX queries for the domain itself (no data)
    # instead of looking for an upstream server it does not have.
    dns = dnsmasq_factory(["--host-record=nomx.test,127.0.0.1", "--local=/nomx.test/"])
    srv = server_factory(delivery=f'enabled = true\nresolvers = ["127.0.0.1:{dns.port}"]\nmx_port = {sink.port}\n')
    submit(srv, ["bob@nomx.test"])
    got = sink.wait(1)
    assert got[0]["rcpts"] == ["bob@nomx.test"]
    wait_queue_empty(srv)
    d = next(e for e in events(srv) if e["type"] == "delivery")
    assert d["remote_mta"] == "nomx.test", "the domain itself is the host (RFC 5321 §5.1)"


def test_starttls_to_a_receiving_mx(server_factory, sink_factory, tmp_path):
    certs = tmp_path / "mx"  # `smtpsd init` makes a self-signed certificate: the MX's
    run_cli("init", str(certs), "--hostname", "mx.test")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs / "tls" / "cert.pem", certs / "tls" / "key.pem")
    tls_sink = sink_factory(tls_context=ctx)
    plain_sink = sink_factory()
    srv = server_factory(name="sender", delivery=(
        f'enabled = true\nroutes = {{ "tls.test" = "127.0.0.1:{tls_sink.port}", '
        f'"plain.test" = "127.0.0.1:{plain_sink.port}" }}\n'))
    submit(srv, ["bob@tls.test"])
    submit(srv, ["bob@plain.test"])
    assert tls_sink.wait(1)[0]["tls"] is True, "STARTTLS offered: the message went inside TLS"
    assert plain_sink.wait(1)[0]["tls"] is False
    wait_queue_empty(srv)


def test_notify_never_sends_no_dsn_end_to_end(server_factory, sink_factory):
    sink = sink_factory()
    srv = server_factory(delivery=route_all(sink))
    submit(srv, ["reject-quiet@example.org"], subject="quiet", rcpt_options=["NOTIFY=NEVER"])
    submit(srv, ["reject-loud@example.org"], subject="loud")
    wait_queue_empty(srv)
    got = wait_for(lambda: dsns(sink), 20, interval=0.1, what="the DSN of the second message")
    bounces = [e for e in events(srv) if e["type"] == "bounce"]
    assert sorted(r for e in bounces for r in e["recipients"]) == ["reject-loud@example.org", "reject-quiet@example.org"]
    loud = next(e["queue_id"] for e in bounces if e["recipients"] == ["reject-loud@example.org"])
    # DSNs are queued in the order their messages' outcomes were recorded, and
    # both were recorded before this one arrived: a DSN of the quiet one would
    # have been delivered by the time the queue is empty again.
    wait_queue_empty(srv)
    assert len(dsns(sink)) == 1, [m["data"][:200] for m in dsns(sink)]
    assert loud.encode() in got[0]["data"]
    assert b"reject-quiet@example.org" not in got[0]["data"]


def thread_placement(pid):
    """Each thread's scheduling policy (field 41 of stat) and the CPUs it may run on."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
            policy = int(stat[stat.rindex(")") + 2:].split()[38])
            out.append((policy, frozenset(os.sched_getaffinity(int(task.name)))))
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that ended meanwhile
    return out


def test_serve_runs_again_with_a_larger_malloc_tcache_under_its_own_name_and_pid(server_factory):
    def environ(pid):
        # glibc cuts GLIBC_TUNABLES into its tunables in place, so the
        # process's own copy reads one NUL-separated piece per tunable.
        return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")

    srv = server_factory()
    assert b"GLIBC_TUNABLES=glibc.malloc.tcache_count=64" in environ(srv.proc.pid)
    assert Path(f"/proc/{srv.proc.pid}/comm").read_text().strip() == Path(BIN).name[:15], "named after the binary"
    submit(srv, ["x@example.org"])
    assert len(queue(srv)) == 1, "and mail goes through"
    srv.stop()

    own = server_factory(name="own", start=False)
    own.env = dict(os.environ, GLIBC_TUNABLES="glibc.malloc.arena_max=2")
    own.start()
    env = environ(own.proc.pid)
    i = env.index(b"GLIBC_TUNABLES=glibc.malloc.arena_max=2")
    assert env[i + 1] == b"glibc.malloc.tcache_count=64", "the operator's tunables kept, the count added"
    own.stop()

    chosen = server_factory(name="chosen", start=False)
    chosen.env = dict(os.environ, GLIBC_TUNABLES="glibc.malloc.tcache_count=7")
    chosen.start()
    env = environ(chosen.proc.pid)
    assert b"GLIBC_TUNABLES=glibc.malloc.tcache_count=7" in env and b"glibc.malloc.tcache_count=64" not in env, \
        "the operator's count stands"
    chosen.stop()


def test_threads_run_under_sched_batch_and_the_io_thread_and_committer_get_a_core_each(server_factory):
    SCHED_OTHER, SCHED_BATCH = 0, 3
    usable = sorted(os.sched_getaffinity(0))
    srv = server_factory(start=False)
    srv.config.write_text(srv.config.read_text().replace("threads = 2\n", "threads = 1\n"))
    srv.start()
    # A thread started from the pinned I/O thread (the webhook dispatcher,
    # when this node takes that role) shows its creator's CPU for the moment
    # before base::start_thread widens it: read until no such moment is seen.
    deadline = time.monotonic() + 5
    while True:
        placed = thread_placement(srv.proc.pid)
        if sum(len(cpus) == 1 for _, cpus in placed) <= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert len(placed) >= 4, placed
    assert all(policy == SCHED_BATCH for policy, _ in placed), placed
    pinned = sorted(next(iter(cpus)) for _, cpus in placed if len(cpus) == 1)
    if len(usable) >= 2:
        assert pinned == usable[:2], f"the I/O thread on {usable[0]}, the committer on {usable[1]}: {placed}"
        assert f"cpu_affinity: I/O threads on CPU {usable[0]}, the group committer on CPU {usable[1]}" in srv.log()
    others = [cpus for _, cpus in placed if len(cpus) > 1]
    assert others and all(cpus == frozenset(usable) for cpus in others), "the rest float"
    submit(srv, ["x@example.org"])
    assert len(queue(srv)) == 1, "and mail goes through"
    srv.stop()

    normal = server_factory(name="normal", start=False)
    normal.config.write_text(normal.config.read_text().replace(
        "threads = 2\n", 'threads = 1\nscheduling = "normal"\ncpu_affinity = false\n'))
    normal.start()
    placed = thread_placement(normal.proc.pid)
    assert all(policy == SCHED_OTHER for policy, _ in placed), placed
    assert all(cpus == frozenset(usable) for _, cpus in placed), placed
