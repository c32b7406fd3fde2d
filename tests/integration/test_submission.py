"""Submission core (issue 2): every SPEC §3 row that needs no account policy,
driven through the real server with real clients."""
import re
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from conftest import PASSWORD, read_spool, wait_for

MESSAGE = "From: alice@example.com\r\nTo: bob@example.org\r\nSubject: hello\r\nBcc: hidden@example.net\r\n\r\nHi Bob.\r\n"


def queued_id(reply_text):
    m = re.search(r"queued as ([0-9A-Z]{16})", reply_text)
    assert m, reply_text
    return m.group(1)


def test_implicit_tls_banner_comes_inside_tls_and_message_is_queued(server):
    with server.smtp_ssl() as s:
        code, banner = s.ehlo("client.example")
        assert code == 250
        features = banner.decode()
        for ext in ["AUTH PLAIN LOGIN", "SIZE", "PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8",
                    "CHUNKING", "DSN"]:
            assert ext in features, ext
        assert "STARTTLS" not in features
        s.login("alice", PASSWORD)
        s.mail("alice@example.com")
        assert s.rcpt("bob@example.org")[0] == 250
        code, text = s.data(MESSAGE)
        assert code == 250
        assert text.decode().startswith("2.0.0 Ok: queued as ")
        qid = queued_id(text.decode())
    queue = server.cli_json("queue", "list")
    assert [m["id"] for m in queue] == [qid]
    m = queue[0]
    assert m["account"] == "acme" and m["from"] == "alice@example.com"
    assert m["recipients"][0]["address"] == "bob@example.org"
    assert m["recipients"][0]["status"] == "queued"
    assert set(m) >= {"id", "account", "from", "size", "created", "recipients"}
    assert set(m["recipients"][0]) == {"address", "status", "attempts", "next_attempt", "last_response"}
    body = read_spool(server, qid).decode()
    received = body.split("\r\n\r\n")[0]
    assert received.startswith("DKIM-Signature: v=1; a=ed25519-sha256;"), "signed on top of the fix-ups"
    received = received[received.index("Received: "):]
    assert re.match(r"Received: from client\.example \(\[127\.0\.0\.1\]\)\r\n\tby mail\.test \(smtpsd\) with ESMTPSA id "
                    + qid + r"\r\n\t\(using TLSv1\.[23] with cipher \S+\);", received), received
    assert "Bcc:" not in body and "hidden@example.net" not in body
    assert re.search(r"\r\nDate: .+\r\n", body)
    assert f"Message-ID: <{qid}@mail.test>" in body
    assert body.endswith("\r\n\r\nHi Bob.\r\n")


def test_raw_implicit_tls_banner_text(server):
    c = server.raw()
    assert re.fullmatch(r"220 mail\.test ESMTP .*", c.line())
    c.close()


def test_plain_bytes_on_implicit_tls_port_get_no_banner(server):
    sock = socket.create_connection(("127.0.0.1", server.ports[0]), timeout=10)
    sock.sendall(b"EHLO plain\r\n")
    sock.settimeout(10)
    data = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    assert b"220" not in data and b"250" not in data
    sock.close()
    wait_for(lambda: "TLS handshake failed" in server.log(), what="handshake failure logged")


def test_starttls_offers_starttls_not_auth_and_refuses_auth_before_tls(server):
    s = smtplib.SMTP("127.0.0.1", server.ports[1], timeout=30)
    code, msg = s.ehlo("client.example")
    features = msg.decode()
    assert "STARTTLS" in features and "AUTH" not in features
    assert s.docmd("AUTH PLAIN AGFsaWNlAHBhc3M=") == (538, b"5.7.11 Encryption required for requested authentication mechanism")
    assert s.docmd("MAIL FROM:<alice@example.com>") == (530, b"5.7.0 Authentication required")
    s.starttls(context=server.tls_context())
    code, msg = s.ehlo("client.example")
    assert "AUTH PLAIN LOGIN" in msg.decode() and "STARTTLS" not in msg.decode()
    s.login("alice", PASSWORD)
    s.sendmail("alice@example.com", ["bob@example.org"], MESSAGE)
    s.quit()
    assert len(server.cli_json("queue", "list")) == 1


def test_mail_before_auth_and_wrong_password(server):
    with server.smtp_ssl() as s:
        s.ehlo("c")
        assert s.docmd("MAIL FROM:<alice@example.com>") == (530, b"5.7.0 Authentication required")
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login("alice", "wrong password")
        assert e.value.smtp_code == 535 and e.value.smtp_error.startswith(b"5.7.8")
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login("nobody", PASSWORD)
        assert e.value.smtp_code == 535


def test_auth_bad_base64_gets_reply_and_session_survives(server):
    c = server.raw()
    c.line()
    c.cmd("EHLO c")
    assert c.cmd("AUTH PLAIN ***notbase64***")[0].startswith("501 5.5.2")
    assert c.cmd("NOOP") == ["250 2.0.0 Ok"]
    c.close()


def test_size_parameter_and_data_above_the_limit(server_factory):
    srv = server_factory(limits="max_message_bytes = 4096\n")
    with srv.smtp_ssl() as s:
        s.ehlo("c")
        assert "SIZE 4096" in s.ehlo_resp.decode()
        s.login("alice", PASSWORD)
        code, msg = s.docmd("MAIL FROM:<alice@example.com> SIZE=5000")
        assert (code, msg[:5]) == (552, b"5.3.4")
        s.mail("alice@example.com")
        s.rcpt("bob@example.org")
        code, msg = s.data("Subject: big\r\n\r\n" + ("x" * 70 + "\r\n") * 100)  # data() returns the final reply
        assert (code, msg[:5]) == (552, b"5.3.4")
        assert s.noop()[0] == 250
    assert srv.cli_json("queue", "list") == []
    assert srv.spool_count() == 0


def test_too_many_recipients(server_factory):
    srv = server_factory(limits="max_recipients = 3\n")
    with srv.smtp_ssl() as s:
        s.login("alice", PASSWORD)
        s.mail("alice@example.com")
        for i in range(3):
            assert s.rcpt(f"r{i}@example.org")[0] == 250
        code, msg = s.rcpt("r4@example.org")
        assert (code, msg[:5]) == (452, b"4.5.3")


def test_command_line_over_512_octets_and_text_line_over_1000(server):
    c = server.raw()
    c.line()
    c.login("alice", PASSWORD)
    reply = c.cmd("NOOP " + "x" * 600)
    assert reply[0].startswith("500 5.5.2")
    assert c.cmd("NOOP") == ["250 2.0.0 Ok"]
    c.cmd("MAIL FROM:<alice@example.com>")
    c.cmd("RCPT TO:<bob@example.org>")
    assert c.cmd("DATA")[0].startswith("354")
    c.send("Subject: long\r\n\r\n" + "y" * 1200 + "\r\n.\r\n")
    assert c.reply()[0].startswith("552 5.3.4")
    assert c.cmd("NOOP") == ["250 2.0.0 Ok"]
    c.close()
    assert server.cli_json("queue", "list") == []


@pytest.mark.parametrize("fake_end", [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r.\r\n", b"\r\n.\r"])
def test_smuggling_never_yields_two_messages(server, fake_end):
    c = server.raw()
    c.line()
    c.login("alice", PASSWORD)
    c.cmd("MAIL FROM:<alice@example.com>")
    c.cmd("RCPT TO:<bob@example.org>")
    assert c.cmd("DATA")[0].startswith("354")
    c.send(b"Subject: first\r\n\r\nfirst" + fake_end + b"MAIL FROM:<alice@example.com>\r\nRCPT TO:<victim@example.org>\r\n"
           b"DATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n.\r\n")
    reply = c.reply()
    assert reply[0].startswith("554 5.5.2"), reply
    assert c.cmd("NOOP") == ["250 2.0.0 Ok"], "nothing smuggled was executed"
    c.close()
    assert server.cli_json("queue", "list") == []
    assert server.spool_count() == 0


def test_starttls_injection_pipelined_noop_is_never_answered(server):
    sock = socket.create_connection(("127.0.0.1", server.ports[1]), timeout=10)
    f = sock.makefile("rb")
    assert f.readline().startswith(b"220 ")
    sock.sendall(b"EHLO c\r\n")
    while not f.readline().startswith(b"250 "):
        pass
    sock.sendall(b"STARTTLS\r\nNOOP\r\n")  # one packet
    assert f.readline().startswith(b"220 2.0.0")
    tls = server.tls_context().wrap_socket(sock, server_hostname="localhost")
    tls.sendall(b"EHLO after\r\n")
    tf = tls.makefile("rb")
    first = tf.readline()
    assert first.startswith(b"250-mail.test"), f"the first reply inside TLS must answer EHLO, got {first!r}"
    lines = [first]
    while not lines[-1].startswith(b"250 "):
        lines.append(tf.readline())
    tls.sendall(b"NOOP\r\n")
    assert tf.readline() == b"250 2.0.0 Ok\r\n"
    tls.close()


def test_error_limit_closes_with_421(server_factory):
    srv = server_factory(limits="max_errors = 3\n")
    c = srv.raw()
    c.line()
    assert c.cmd("BOGUS")[0].startswith("500")
    assert c.cmd("BOGUS")[0].startswith("500")
    assert c.cmd("BOGUS")[0].startswith("500")
    assert c.reply()[0].startswith("421 4.7.0")
    assert c.closed()


def test_command_and_data_timeouts(server_factory):
    srv = server_factory(limits="command_timeout_s = 1\ndata_timeout_s = 1\n")
    c = srv.raw()
    c.line()
    assert c.reply()[0].startswith("421 4.4.2")
    assert c.closed()
    c = srv.raw()
    c.line()
    c.login("alice", PASSWORD)
    c.cmd("MAIL FROM:<alice@example.com>")
    c.cmd("RCPT TO:<bob@example.org>")
    c.cmd("DATA")
    c.send("Subject: slow\r\n\r\npartial")
    assert c.reply()[0].startswith("421 4.4.2")
    assert c.closed()
    assert srv.spool_count() == 0


def test_client_vanishing_mid_data_leaves_nothing(server):
    c = server.raw()
    c.line()
    c.login("alice", PASSWORD)
    c.cmd("MAIL FROM:<alice@example.com>")
    c.cmd("RCPT TO:<bob@example.org>")
    c.cmd("DATA")
    # Over 256 KiB a body streams to a spool file of its own while it arrives.
    c.send("Subject: cut\r\n\r\n" + ("z" * 998 + "\r\n") * 400)
    large = lambda: list((server.root / "data" / "spool").glob("l-*"))
    wait_for(large, what="the body to be spooled while it streams")
    c.close()
    wait_for(lambda: not large(), what="the partial body to be removed")
    assert server.spool_count() == 0
    assert server.cli_json("queue", "list") == []
    with server.smtp_ssl() as s:  # the server serves others throughout
        s.login("alice", PASSWORD)
        s.sendmail("alice@example.com", ["bob@example.org"], MESSAGE)


def test_pipelined_transaction_and_bdat(server):
    c = server.raw()
    c.line()
    c.login("alice", PASSWORD)
    c.send("MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.org>\r\nRCPT TO:<carol@example.org>\r\nDATA\r\n")
    assert [c.code() for _ in range(4)] == [250, 250, 250, 354]
    c.send("From: alice@example.com\r\nSubject: p\r\n\r\n..dotted\r\n.\r\nNOOP\r\n")
    first = queued_id(c.reply()[0])
    assert c.code() == 250  # the NOOP sent with the message's end stayed in the input while the commit ran
    chunk1 = b"From: alice@example.com\r\nSubject: chunked\r\n\r\n"
    chunk2 = b"body\r\n"
    c.send(b"MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.org>\r\n")
    assert [c.code(), c.code()] == [250, 250]
    c.send(b"BDAT %d\r\n" % len(chunk1) + chunk1)
    assert c.reply()[0].startswith("250 2.0.0")
    c.send(b"BDAT %d LAST\r\n" % len(chunk2) + chunk2)
    second = queued_id(c.reply()[0])
    c.close()
    ids = [m["id"] for m in server.cli_json("queue", "list")]
    assert ids == sorted([first, second])
    assert read_spool(server, first).endswith(b"\r\n\r\n.dotted\r\n")
    chunked = read_spool(server, second)
    assert b"\r\nSubject: chunked\r\n" in chunked and chunked.endswith(b"\r\n\r\nbody\r\n")


def test_swaks_over_implicit_tls(server):
    p = subprocess.run(["swaks", "--server", f"127.0.0.1:{server.ports[0]}", "--tlsc", "--auth", "PLAIN",
                        "--auth-user", "alice", "--auth-password", PASSWORD, "--from", "alice@example.com",
                        "--to", "bob@example.org", "--helo", "swaks.example"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"<~  250 2\.0\.0 Ok: queued as [0-9A-Z]{16}", p.stdout)


def test_swaks_over_starttls_with_login(server):
    p = subprocess.run(["swaks", "--server", f"127.0.0.1:{server.ports[1]}", "-tls", "--auth", "LOGIN",
                        "--auth-user", "alice", "--auth-password", PASSWORD, "--from", "alice@example.com",
                        "--to", "bob@example.org"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "250 2.0.0 Ok: queued as" in p.stdout


@pytest.mark.parametrize("mode", ["implicit", "starttls"])
def test_openssl_s_client(server, mode):
    args = ["openssl", "s_client", "-quiet", "-crlf", "-CAfile", server.cert, "-verify_return_error",
            "-servername", "localhost"]
    if mode == "implicit":
        args += ["-connect", f"127.0.0.1:{server.ports[0]}"]
    else:
        args += ["-connect", f"127.0.0.1:{server.ports[1]}", "-starttls", "smtp"]
    p = subprocess.run(args, input="EHLO sclient.example\nQUIT\n", capture_output=True, text=True, timeout=60)
    out = p.stdout
    if mode == "implicit":
        assert re.search(r"^220 mail\.test ESMTP", out, re.M), out
    assert "250 AUTH PLAIN LOGIN" in out, out
    assert "221 2.0.0 Bye" in out, out


def test_tls_below_1_2_is_refused(server):
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{server.ports[0]}", "-tls1_1"],
                       input="", capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "220 mail.test" not in p.stdout


def test_sigterm_exits_zero(server):
    assert server.stop() == 0
    assert '"stopped"' in server.log()
