"""SIGHUP (issue 6): certificates and live settings reload without dropping
anyone; a bad new certificate or configuration is refused and the old one
stays in force."""
import signal
import smtplib
import socket
import ssl

from conftest import PASSWORD, raw_in_data, run_cli, wait_for
from test_delivery import route_all, submit

FROM = "alice@example.com"


def hup(srv, expect):
    before = srv.log().count("SIGHUP")
    srv.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: srv.log().count("SIGHUP") > before, 10, what="the reload to be logged")
    assert expect in srv.log().split("SIGHUP")[-1] or expect in srv.log(), srv.log()[-2000:]


def peer_subject(srv):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", srv.ports[0]), timeout=10) as raw:
        with ctx.wrap_socket(raw) as t:
            der = t.getpeercert(binary_form=True)
    from cryptography import x509
    return x509.load_der_x509_certificate(der).subject.rfc4514_string()


def test_certificates_reload_and_a_broken_one_is_refused(server, tmp_path):
    assert peer_subject(server) == "CN=localhost"
    open_session = server.smtp_ssl()
    open_session.login("alice", PASSWORD)
    run_cli("init", str(tmp_path / "other"), "--hostname", "other.test")
    (server.root / "tls" / "cert.pem").write_bytes((tmp_path / "other" / "tls" / "cert.pem").read_bytes())
    (server.root / "tls" / "key.pem").write_bytes((tmp_path / "other" / "tls" / "key.pem").read_bytes())
    hup(server, "reloaded")
    assert peer_subject(server) == "CN=other.test"
    open_session.sendmail(FROM, ["bob@example.org"], f"From: {FROM}\r\nSubject: kept\r\n\r\nx\r\n")
    open_session.quit()

    (server.root / "tls" / "cert.pem").write_text("garbage\n")
    hup(server, "reload refused")
    assert "cert.pem" in server.log().split("reload refused")[-1]
    assert peer_subject(server) == "CN=other.test", "the old certificate stays in force"


def test_access_lists_and_limits_apply_to_new_sessions_only(server):
    open_session = server.smtp_ssl()
    open_session.login("alice", PASSWORD)
    text = server.config.read_text()
    server.config.write_text(text.replace('mode = "starttls"\n', 'mode = "starttls"\ndeny = ["127.0.0.0/8"]\n')
                             .replace("[limits]\n", "[limits]\nmax_recipients = 1\n"))
    hup(server, "reloaded")
    with socket.create_connection(("127.0.0.1", server.ports[1]), timeout=10) as c:
        assert c.recv(512).startswith(b"554 5.7.1")
    with server.smtp_ssl() as s:
        s.login("alice", PASSWORD)
        s.mail(FROM)
        assert s.rcpt("a@example.org")[0] == 250
        code, msg = s.rcpt("b@example.org")
        assert code == 452 and msg.startswith(b"4.5.3")
    # The session opened before the reload keeps its settings.
    open_session.mail(FROM)
    assert open_session.rcpt("a@example.org")[0] == 250
    assert open_session.rcpt("b@example.org")[0] == 250
    open_session.quit()

    server.config.write_text("this is [ not toml\n")
    hup(server, "reload refused")
    assert server.proc.poll() is None
    with server.smtp_ssl() as s:
        s.login("alice", PASSWORD)
        s.mail(FROM)
        s.rcpt("a@example.org")
        assert s.rcpt("b@example.org")[0] == 452, "the last good configuration stays in force"


def test_routes_reload(server_factory, sink_factory):
    a, b = sink_factory(), sink_factory()
    srv = server_factory(delivery=route_all(a))
    submit(srv, ["x@example.org"])
    a.wait(1)
    srv.config.write_text(srv.config.read_text().replace(f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"))
    hup(srv, "reloaded")
    submit(srv, ["y@example.org"])
    got = b.wait(1)
    assert got[0]["rcpts"] == ["y@example.org"] and len(a.received()) == 1


def test_sigterm_drains_data_and_says_421_to_idle_sessions(server):
    idle = server.raw()
    idle.line()
    idle.cmd("EHLO idle.test")
    busy = raw_in_data(server)
    busy.send(b"From: alice@example.com\r\nSubject: in flight\r\n\r\nfirst half\r\n")
    server.proc.send_signal(signal.SIGTERM)
    assert idle.reply()[0].startswith("421 4.3.2"), "idle sessions are told and closed"
    busy.send(b"second half\r\n.\r\n")
    assert busy.reply()[0].startswith("250 2.0.0 Ok: queued as"), "a session in DATA finishes"
    assert server.proc.wait(30) == 0
