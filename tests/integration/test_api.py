"""The HTTP API (issue 14, SPEC §8) against a real `smtpsd serve`: every
path the OpenAPI description lists answers, tokens (missing, wrong, revoked,
read-only, throttled), bad JSON and oversized bodies, paging over 100,000
queued messages and suppressed addresses, HTTPS, and the same JSON as the CLI."""
import http.client
import smtplib
import socket
import sqlite3
import ssl
import time
import urllib.parse

import pytest

from api_client import Api, make_token, queue_id
from conftest import PASSWORD, wait_for

FROM = "alice@example.com"


def send(srv, to=("bob@example.org",)):
    with srv.smtp_ssl() as s:
        s.login("alice", PASSWORD)
        s.sendmail(FROM, list(to), f"From: {FROM}\r\nTo: {', '.join(to)}\r\nSubject: api\r\n\r\nHello.\r\n")


@pytest.fixture
def dns(dnsmasq_factory):
    return dnsmasq_factory(["--txt-record=example.com,v=spf1 a:mail.test ~all"])


@pytest.fixture
def srv(server_factory, dns):
    return server_factory(delivery=f'enabled = false\nresolvers = ["127.0.0.1:{dns.port}"]\n',
                          auth="failures_before_throttle = 4\nfailure_window_s = 600\n")


@pytest.fixture
def api(srv):
    a = Api(srv, make_token(srv))
    yield a
    a.close()


def fill(path, values):
    for key, value in values.items():
        path = path.replace("{" + key + "}", urllib.parse.quote(value, safe=""))
    return path


def test_every_documented_path_answers_and_needs_a_token(srv, api):
    send(srv)
    qid = api.get("/api/v1/queue")["items"][0]["id"]
    spare_user = api.ok("POST", "/api/v1/accounts/acme/credentials", {})["username"]
    api.ok("POST", "/api/v1/accounts", {"name": "spare"})
    api.ok("POST", "/api/v1/accounts/acme/identities", {"identity": "spare.example"})
    api.ok("POST", "/api/v1/suppression", {"address": "gone@example.org"})
    api.ok("POST", "/api/v1/tokens", {"name": "spare"})
    read_only = Api(srv, make_token(srv, "reader", read_only=True))
    anonymous = Api(srv)

    doc = api.get("/api/v1/openapi.json")
    assert doc["openapi"].startswith("3.1")
    operations = [(m.upper(), p, op) for p, ops in doc["paths"].items() for m, op in ops.items()]
    assert len(operations) >= 35
    values = {"name": "acme", "identity": "example.com", "username": "alice", "address": "gone@example.org",
              "id": qid}
    # Deletions remove the spares, last, so every other call finds what it names.
    spares = {("DELETE", "/api/v1/accounts/{name}"): {"name": "spare"},
              ("DELETE", "/api/v1/tokens/{name}"): {"name": "spare"},
              ("DELETE", "/api/v1/credentials/{username}"): {"username": spare_user},
              ("DELETE", "/api/v1/accounts/{name}/identities/{identity}"): {"identity": "spare.example"},
              ("DELETE", "/api/v1/accounts/{name}/allowed-recipients/{address}"): {"address": "tester@example.org"}}
    order = {"GET": 0, "POST": 1, "PATCH": 1, "DELETE": 2}
    answered = []
    for method, path, op in sorted(operations, key=lambda o: (order[o[0]], o[1])):
        url = fill(path, {**values, **spares.get((method, path), {})})
        body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("example")
        if body is None and method in ("POST", "PATCH"):
            body = {}
        if path.startswith("/api/"):
            status, data, headers = anonymous.request(method, url, body)
            assert status == 401 and "error" in data and headers["WWW-Authenticate"].startswith("Bearer"), (path, data)
            if method != "GET":
                status, data, _ = read_only.request(method, url, body)
                assert status == 403, (method, path, status, data)
        status, data, headers = api.request(method, url, body)
        assert str(status) in op["responses"] and status < 300, (method, url, status, data)
        if path.startswith("/api/"):
            assert headers["Content-Type"] == "application/json"
        answered.append((method, path))
    assert len(answered) == len(operations)
    assert not [d for d in api.get("/api/v1/accounts/acme/identities") if d["identity"] == "spare.example"]
    assert api.request("GET", f"/api/v1/queue/{qid}")[0] == 404  # removed by DELETE /queue/{id}


def test_wrong_and_revoked_tokens_are_refused_then_throttled_per_address(srv, api):
    spare = make_token(srv, "short-lived")
    assert Api(srv, spare).request("GET", "/api/v1/accounts")[0] == 200
    srv.cli("token", "revoke", "short-lived")
    status, data, headers = Api(srv, spare).request("GET", "/api/v1/accounts")
    assert status == 401 and data == {"error": "the token is not valid"}
    assert 'error="invalid_token"' in headers["WWW-Authenticate"]
    for _ in range(3):
        assert Api(srv, "smtpsd_wrong").request("GET", "/api/v1/server")[0] == 401
    # Four failures within the window: now even the right token waits.
    status, data, headers = api.request("GET", "/api/v1/server")
    assert status == 429 and headers["Retry-After"] and "error" in data
    assert "smtpsd_wrong" not in srv.log() and spare not in srv.log()  # tokens never logged
    assert urllib_status(srv, "/healthz") == 200  # no token needed


def urllib_status(srv, path):
    import urllib.request
    return urllib.request.urlopen(f"http://127.0.0.1:{srv.admin_port}{path}", timeout=10).status


def test_read_only_token_reads_but_cannot_change(srv):
    reader = Api(srv, make_token(srv, "grafana", read_only=True))
    assert reader.get("/api/v1/accounts/acme/quota") == {"max_24h": 50000, "max_send_rate": 14.0, "sent_last_24h": 0}
    status, data, _ = reader.request("PATCH", "/api/v1/accounts/acme", {"suspended": True})
    assert (status, data) == (403, {"error": "this token may only read"})
    assert srv.cli_json("account", "show", "acme")["suspended"] is False
    tokens = {t["name"]: t for t in reader.get("/api/v1/tokens")}
    assert tokens["grafana"]["read_only"] is True and "token" not in tokens["grafana"]


def test_bad_requests_get_precise_errors(srv, api):
    cases = [
        ("POST", "/api/v1/accounts", b'{"name": ', 400, "the request body is not valid JSON"),
        ("POST", "/api/v1/accounts", b'["acme"]', 400, "the request body must be a JSON object"),
        ("POST", "/api/v1/accounts", b'{"name": "x", "colour": 1}', 400, 'unknown field "colour"'),
        ("POST", "/api/v1/accounts", b'{"name": 5}', 400, '"name" must be a string'),
        ("POST", "/api/v1/accounts", b'{}', 400, '"name" is required'),
        ("POST", "/api/v1/accounts", b'{"name": "acme"}', 409, 'an account named "acme" already exists'),
        ("POST", "/api/v1/accounts", b'{"name": "bad name"}', 400, None),
        ("PATCH", "/api/v1/accounts/acme", b'{"max_24h": -3}', 400, None),
        ("PATCH", "/api/v1/accounts/acme", b'{"suspended": "yes"}', 400, '"suspended" must be true or false'),
        ("GET", "/api/v1/accounts/nobody", None, 404, 'no account named "nobody"'),
        ("GET", "/api/v1/queue/0123456789ABCDEF", None, 404, "no queued message 0123456789ABCDEF"),
        ("GET", "/api/v1/queue/nonsense", None, 400, None),
        ("GET", "/api/v1/queue?limit=0", None, 400, "limit must be 1 to 1000"),
        ("GET", "/api/v1/queue?limit=ten", None, 400, '"limit" must be a whole number, got "ten"'),
        ("GET", "/api/v1/queue?colour=red", None, 400, 'unknown query parameter "colour"'),
        ("GET", "/api/v1/queue?status=lost", None, 400, None),
        ("GET", "/api/v1/events?since=yesterday", None, 400, "since must be a time such as 2026-11-28T09:00:00Z"),
        ("GET", "/api/v1/nothing", None, 404, "no such API resource"),
        ("PUT", "/api/v1/accounts", None, 405, "this resource does not take that method"),
        ("DELETE", "/api/v1/suppression/nobody@example.org", None, 404, "nobody@example.org is not on the suppression list"),
    ]
    for method, path, raw, want, text in cases:
        status, data, _ = api.request(method, path, raw=raw, headers={"Content-Type": "application/json"})
        assert status == want and isinstance(data, dict) and data["error"], (method, path, status, data)
        if text:
            assert data["error"] == text, (path, data)
    # Bodies over 1 MiB: refused by their declared length, and while a chunked one streams in.
    big = b'{"name": "' + b"a" * (1024 * 1024) + b'"}'
    status, data, _ = api.request("POST", "/api/v1/accounts", raw=big)
    assert (status, data) == (413, {"error": "the request body is over 1 MiB"})
    assert chunked_post(srv, api.token, big).startswith(b"HTTP/1.1 413")
    assert api.get("/api/v1/server")["hostname"] == "mail.test"  # still serving


def chunked_post(srv, token, body):
    with socket.create_connection(("127.0.0.1", srv.admin_port), timeout=30) as s:
        s.sendall(f"POST /api/v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                  "Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n".encode())
        try:
            for i in range(0, len(body), 65536):
                part = body[i:i + 65536]
                s.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            s.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the end
        return s.recv(4096)


def insert_rows(srv, messages, suppressed):
    """Rows straight into the embedded store, as a busy server would have them."""
    db = sqlite3.connect(srv.root / "data" / "smtpsd.db")
    account_id = db.execute("SELECT id FROM accounts WHERE name = 'acme'").fetchone()[0]
    now = int(time.time())
    db.executemany("INSERT INTO messages(id, account_id, account, sender, size, created) VALUES (?, ?, 'acme', ?, 1000, ?)",
                   ((queue_id(n), account_id, FROM, now) for n in range(messages)))
    db.executemany("INSERT INTO recipients(message_id, idx, address, status, next_attempt) VALUES (?, 0, ?, ?, ?)",
                   ((queue_id(n), f"r{n}@example.org", 1 if n % 100 == 7 else 0, now + 3600) for n in range(messages)))
    db.executemany("INSERT INTO suppression(address, reason, created) VALUES (?, 'bounce', ?)",
                   ((f"user{n:06d}@example.net", now) for n in range(suppressed)))
    db.commit()
    db.close()


def test_paging_over_100000_queued_messages_and_suppressed_addresses(server_factory):
    srv = server_factory(start=False)
    insert_rows(srv, 100_000, 100_000)
    srv.start()
    api = Api(srv, make_token(srv))

    seen, after, pages = [], "", 0
    while True:
        page = api.get(f"/api/v1/queue?limit=1000&after={after}")
        seen += [m["id"] for m in page["items"]]
        pages += 1
        if page["next"] is None:
            break
        after = page["next"]
    assert len(seen) == 100_000 and seen == sorted(set(seen)) and pages == 100

    deferred = api.get("/api/v1/queue?status=deferred&limit=1000")
    assert len(deferred["items"]) == 1000
    assert all(m["recipients"][0]["status"] == "deferred" for m in deferred["items"])
    one = api.get("/api/v1/queue?recipient=R99999@EXAMPLE.ORG")
    assert [m["recipients"][0]["address"] for m in one["items"]] == ["r99999@example.org"]
    assert api.get("/api/v1/queue?account=nobody")["items"] == []

    addresses, after = [], ""
    first = api.get("/api/v1/suppression?limit=1000")
    assert first["total"] == 100_000
    while True:
        page = api.get(f"/api/v1/suppression?limit=1000&after={urllib.parse.quote(after)}")
        addresses += [s["address"] for s in page["items"]]
        if page["next"] is None:
            break
        after = page["next"]
    assert len(addresses) == 100_000 and addresses == sorted(set(addresses))
    found = api.get("/api/v1/suppression?search=user09999")
    assert [s["address"] for s in found["items"]] == [f"user09999{d}@example.net" for d in range(10)]


def test_api_and_cli_answer_with_the_same_json_and_act_on_the_running_server(srv, api):
    assert api.get("/api/v1/accounts/acme") == srv.cli_json("account", "show", "acme")
    send(srv, ("bob@example.org", "carol@example.org"))
    quota = api.get("/api/v1/accounts/acme/quota")
    assert quota == {"max_24h": 50000, "max_send_rate": 14.0, "sent_last_24h": 2}
    listed = api.get("/api/v1/queue")["items"]
    assert listed == srv.cli_json("queue", "list")
    stats = api.get("/api/v1/statistics")
    assert stats["bucket_seconds"] == 900
    assert sum(p["delivery_attempts"] for p in stats["data_points"]) == 2
    assert sum(p["accepted"] for p in stats["data_points"]) == 1
    events = api.get("/api/v1/events?type=send")
    assert [e["recipients"] for e in events["items"]] == [["bob@example.org", "carol@example.org"]]
    assert api.get(f"/api/v1/events?after={events['last']}")["items"] == []

    api.ok("PATCH", "/api/v1/accounts/acme", {"suspended": True, "max_24h": 10})
    with pytest.raises(smtplib.SMTPAuthenticationError):
        send(srv)
    assert api.get("/api/v1/accounts/acme/quota")["max_24h"] == 10
    api.ok("PATCH", "/api/v1/accounts/acme", {"suspended": False, "max_24h": "default"})
    send(srv)
    assert api.get("/api/v1/accounts/acme")["own_limits"]["max_24h"] is False
    server = api.get("/api/v1/server")
    assert server["messages_accepted_total"] == 2 and server["queue_messages"] >= 0


def test_https_admin_listener_with_the_tls_certificates(server_factory):
    srv = server_factory(extra="", start=False)
    srv.config.write_text(srv.config.read_text().replace('[admin]\nlisten = "127.0.0.1:0"\n',
                                                         '[admin]\nlisten = "127.0.0.1:0"\ntls = true\n'))
    srv.start()
    token = make_token(srv)
    api = Api(srv, token, tls_context=srv.tls_context())
    assert api.get("/api/v1/server")["hostname"] == "mail.test"
    with pytest.raises((OSError, http.client.HTTPException)):
        Api(srv, token).request("GET", "/api/v1/server")  # plain HTTP is not spoken there
    status, text, _ = api.request("GET", "/healthz")
    assert (status, text) == (200, "ok\n")


def test_admin_tls_without_certificates_names_the_key(tmp_path):
    from conftest import run_cli
    cfg = tmp_path / "smtpsd.toml"
    cfg.write_text('hostname = "mail.test"\ndata_dir = "data"\n[admin]\nlisten = "127.0.0.1:0"\ntls = true\n')
    p = run_cli("serve", "-c", str(cfg), check=False)
    assert p.returncode != 0 and "admin.tls" in p.stderr
