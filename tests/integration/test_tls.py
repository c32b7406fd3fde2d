"""TLS listeners: IPv6, min_version, several certificates (SNI and key type)."""
import socket
import ssl
import subprocess

import pytest

from conftest import PASSWORD, Server, config_text, run_cli


def ipv6_available():
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


def make_cert(path, name, key_type):
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if key_type == "ec" else ["-newkey", "rsa:2048"]
    subprocess.run(["openssl", "req", "-x509", *key, "-nodes", "-days", "30", "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName=DNS:{name}", "-keyout", str(path / f"{name}-{key_type}.key"),
                    "-out", str(path / f"{name}-{key_type}.pem")], check=True, capture_output=True)
    return f"{name}-{key_type}.pem", f"{name}-{key_type}.key"


@pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback here")
def test_ipv6_listener(server_factory):
    srv = server_factory(listeners=[("[::1]:0", "implicit-tls")])
    ctx = ssl.create_default_context(cafile=srv.cert)
    ctx.check_hostname = False
    with socket.create_connection(("::1", srv.ports[0]), timeout=10) as raw:
        with ctx.wrap_socket(raw) as tls:
            assert tls.recv(100).startswith(b"220 mail.test ESMTP")


def test_min_version_1_3_refuses_tls_1_2(server_factory):
    srv = server_factory(extra="")
    srv.stop()
    srv.config.write_text(srv.config.read_text().replace(
        "[tls]\n", '[tls]\nmin_version = "1.3"\n'))
    srv.start()
    for version, ok in [("-tls1_2", False), ("-tls1_3", True)]:
        p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{srv.ports[0]}", version, "-quiet", "-crlf"],
                           input="QUIT\n", capture_output=True, text=True, timeout=30)
        assert ("220 mail.test" in p.stdout) == ok, (version, p.stdout, p.stderr)


def test_tls_1_3_answers_with_the_servers_order(server_factory):
    """openssl s_client offers TLS_AES_256_GCM_SHA384 first; the server's
    order (docs/configuration.md) puts TLS_AES_128_GCM_SHA256 first, whose
    SHA-256 key schedule makes a handshake cheaper."""
    srv = server_factory()
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{srv.ports[0]}", "-tls1_3", "-brief", "-crlf",
                        "-ciphersuites", "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"],
                       input="QUIT\n", capture_output=True, text=True, timeout=30)
    assert "Ciphersuite: TLS_AES_128_GCM_SHA256" in p.stderr, p.stderr
    with srv.smtp_ssl() as s:
        assert s.sock.cipher()[0] == "TLS_AES_128_GCM_SHA256"


def test_sni_and_key_type_choose_the_certificate(tmp_path):
    root = tmp_path / "multi"
    run_cli("init", str(root))
    tls = root / "tls"
    certs = [make_cert(tls, "a.example", "ec"), make_cert(tls, "a.example", "rsa"), make_cert(tls, "b.example", "ec")]
    text = config_text().replace(
        '[tls]\ncertificates = [ { cert = "tls/cert.pem", key = "tls/key.pem" } ]',
        "[tls]\ncertificates = [ " + ", ".join(f'{{ cert = "tls/{c}", key = "tls/{k}" }}' for c, k in certs) + " ]")
    srv = Server(root, text)
    srv.start()
    try:
        def served(sni, sigalgs=None):
            args = ["openssl", "s_client", "-connect", f"127.0.0.1:{srv.ports[0]}", "-servername", sni, "-tls1_2"]
            if sigalgs:
                args += ["-sigalgs", sigalgs]
            p = subprocess.run(args, input="", capture_output=True, text=True, timeout=30)
            subject = next(l for l in p.stdout.splitlines() if l.startswith("subject="))
            keytype = "rsa" if "Server public key is 2048 bit" in p.stdout else "ec"
            return subject.split("CN = ")[-1].strip(), keytype

        assert served("a.example") == ("a.example", "ec")  # ECDSA preferred
        assert served("a.example", "RSA-PSS+SHA256:RSA+SHA256") == ("a.example", "rsa")
        assert served("b.example") == ("b.example", "ec")
        assert served("unknown.example")[0] == "a.example"  # the first is the default
    finally:
        srv.kill()


def test_a_broken_certificate_stops_serve_naming_the_file(tmp_path):
    root = tmp_path / "broken"
    run_cli("init", str(root))
    (root / "tls" / "cert.pem").write_text("not a certificate\n")
    srv = Server(root, config_text())
    srv.start(expect_ready=False)
    assert srv.proc.wait(30) == 1
    assert "cert.pem" in srv.log()
