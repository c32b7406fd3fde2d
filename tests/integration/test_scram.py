"""SCRAM-SHA-256 (RFC 5802, RFC 7677) with a client written here from the
RFC's formulas (hashlib, hmac) and driven through smtplib's AUTH loop, against
the real server. SCRAM-SHA-256-PLUS needs the TLS exporter, which Python's ssl
module does not give: src/server/session_test.cpp covers it."""
import base64
import hashlib
import hmac
import os
import smtplib

import pytest

from conftest import PASSWORD, metrics


class ScramClient:
    """smtplib calls it with each decoded challenge (None for the initial
    response) and sends what it returns, base64-encoded."""

    def __init__(self, user, password):
        self.user, self.password = user, password
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.bare = f"n={user},r={self.nonce}"
        self.step = 0
        self.server_final_ok = None

    def __call__(self, challenge=None):
        self.step += 1
        if challenge is None:
            return "n,," + self.bare
        text = challenge.decode()
        if text.startswith("v="):
            self.server_final_ok = hmac.compare_digest(text, "v=" + self.server_signature)
            return ""
        attrs = dict(part.split("=", 1) for part in text.split(","))
        assert attrs["r"].startswith(self.nonce) and len(attrs["r"]) > len(self.nonce), text
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        without_proof = "c=biws,r=" + attrs["r"]
        auth_message = f"{self.bare},{text},{without_proof}".encode()
        signature = hmac.digest(hashlib.sha256(client_key).digest(), auth_message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.digest(salted, b"Server Key", "sha256")
        self.server_signature = base64.b64encode(hmac.digest(server_key, auth_message, "sha256")).decode()
        return without_proof + ",p=" + base64.b64encode(proof).decode()


def scram_login(s, user, password):
    client = ScramClient(user, password)
    code, _ = s.auth("SCRAM-SHA-256", client)
    return code, client


def test_scram_sha_256_submits_over_implicit_tls_and_starttls(server):
    before = metrics(server).get("smtpsd_auth_successes_total", 0)
    with server.smtp_ssl() as s:
        s.ehlo("client.example")
        assert "SCRAM-SHA-256" in s.esmtp_features["auth"].split()
        code, client = scram_login(s, "alice", PASSWORD)
        assert code == 235
        assert client.server_final_ok is True, "the server proved it knows the password too"
        s.sendmail("alice@example.com", ["bob@example.org"], b"From: alice@example.com\r\nTo: bob@example.org\r\nSubject: scram\r\n\r\nhello\r\n")
    with server.smtp_starttls() as s:
        assert "SCRAM-SHA-256" in s.esmtp_features["auth"].split()
        code, _ = scram_login(s, "alice", PASSWORD)
        assert code == 235
        assert s.mail("alice@example.com")[0] == 250
    assert metrics(server)["smtpsd_auth_successes_total"] == before + 2


def test_scram_wrong_password_and_unknown_user_fail_alike(server):
    for user, password in [("alice", "not " + PASSWORD), ("nobody", PASSWORD)]:
        with server.smtp_ssl() as s:
            s.ehlo("client.example")
            with pytest.raises(smtplib.SMTPAuthenticationError) as e:
                scram_login(s, user, password)
            assert e.value.smtp_code == 535 and e.value.smtp_error.startswith(b"5.7.8"), e.value
            assert s.mail("alice@example.com")[0] == 530
    log = server.log()
    assert "wrong password" in log
    assert PASSWORD not in log, "no password in the log"


def test_scram_is_not_offered_before_tls(server):
    s = smtplib.SMTP("127.0.0.1", server.ports[1], timeout=30)
    try:
        s.ehlo("client.example")
        assert "auth" not in s.esmtp_features
        code, _ = s.docmd("AUTH", "SCRAM-SHA-256")
        assert code == 538
    finally:
        s.close()


def test_credentials_say_whether_they_have_scram_secrets(server):
    creds = server.cli_json("credential", "list", "acme")
    assert [c["scram"] for c in creds if c["username"] == "alice"] == [True]
