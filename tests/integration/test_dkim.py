"""DKIM (issue 5): keys made by `identity add`, both signatures on every
message from a domain identity, verified with dkimpy (Debian's python3-dkim)
against the records smtpsd printed; rotation through dnsmasq."""
import email
import json

import dkim
import pytest

from conftest import PASSWORD, wait_for
from test_delivery import queue, route_all

SENDER = "alice@signed.test"


def add_domain(srv, domain="signed.test"):
    out = srv.cli_json("identity", "add", "acme", domain)
    return {r["name"]: r["value"] for r in out["dns_records"]}


def dnsfunc(records):
    def lookup(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        value = records.get(name.rstrip("."))
        return value.encode() if value else None
    return lookup


def send(srv, body, sender=SENDER, rcpts=("bob@example.org",), **kw):
    with srv.smtp_ssl() as s:
        s.login("alice", PASSWORD)
        return s.sendmail(sender, list(rcpts), body, **kw)


def signatures(raw):
    msg = email.message_from_bytes(raw)
    return msg.get_all("DKIM-Signature") or []


def verify_all(raw, records):
    sigs = signatures(raw)
    d = dkim.DKIM(raw)
    results = []
    for i in range(len(sigs)):
        try:
            results.append(d.verify(idx=i, dnsfunc=dnsfunc(records)))
        except dkim.ValidationError:  # a body hash mismatch raises
            results.append(False)
    return sigs, results


@pytest.fixture
def signing(server_factory, sink_factory):
    sink = sink_factory()
    srv = server_factory(delivery=route_all(sink))
    records = add_domain(srv)
    return srv, sink, records


BODIES = {
    "plain": f"From: Alice <{SENDER}>\r\nTo: bob@example.org\r\nSubject: plain\r\n\r\nHello.\r\n",
    "folded_and_fixups": (f"From: Alice\r\n <{SENDER}>\r\nTo: bob@example.org,\r\n\tcarol@example.org\r\n"
                          "Bcc: hidden@example.org\r\nSubject: a subject\r\n  folded over lines\r\n\r\n"
                          "No Date, no Message-ID: smtpsd adds them before signing.\r\n"),
    "long_lines_and_spaces": (f"From: {SENDER}\r\nSubject: long\r\n\r\n" + "word  \t " * 120 + "\r\n"
                              + ("x" * 990 + "\r\n") * 3 + "trailing blank lines\r\n\r\n\r\n\r\n"),
    "eight_bit": (f"From: {SENDER}\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: text/plain; charset=utf-8\r\n"
                  "Content-Transfer-Encoding: 8bit\r\nMIME-Version: 1.0\r\n\r\nnaïve café ✓\r\n.leading dot\r\n"),
    "empty_body": f"From: {SENDER}\r\nSubject: empty\r\n\r\n",
}


@pytest.mark.parametrize("name", list(BODIES))
def test_both_signatures_verify_with_dkimpy(signing, name):
    srv, sink, records = signing
    body = BODIES[name].encode()
    opts = {"mail_options": ["BODY=8BITMIME"]} if name == "eight_bit" else {}
    send(srv, body, **opts)
    got = sink.wait(1)
    raw = got[0]["data"]
    sigs, results = verify_all(raw, records)
    assert len(sigs) == 2
    assert "a=ed25519-sha256" in sigs[0] and "a=rsa-sha256" in sigs[1], "Ed25519 first"
    assert all("d=signed.test" in s and "c=relaxed/relaxed" in s for s in sigs)
    assert results == [True, True], raw[:600]
    assert raw.index(b"DKIM-Signature") < raw.index(b"Received:"), "signed after the fix-ups, on top"
    msg = email.message_from_bytes(raw)
    assert msg["Bcc"] is None and msg["Date"] and msg["Message-ID"]
    h = [t.strip() for t in " ".join(sigs[0].split()).split(";") if t.strip().startswith("h=")][0]
    assert h.startswith("h=from:from:"), "From is over-signed: " + h


def test_tampering_breaks_the_signatures(signing):
    srv, sink, records = signing
    send(srv, BODIES["plain"].encode())
    raw = sink.wait(1)[0]["data"]
    tampered = raw.replace(b"Hello.", b"Hellp.")
    _, results = verify_all(tampered, records)
    assert results == [False, False]
    forged = raw.replace(b"Subject: plain", b"Subject: urgent")
    _, results = verify_all(forged, records)
    assert results == [False, False]


def test_address_identity_without_keys_leaves_unsigned(signing):
    srv, sink, records = signing
    srv.cli("identity", "add", "acme", "bob@other.test")
    send(srv, "From: bob@other.test\r\nSubject: unsigned\r\n\r\nx\r\n".encode(), sender="bob@other.test")
    raw = sink.wait(1)[0]["data"]
    assert signatures(raw) == []


def test_records_are_printed_split_for_dns(server_factory):
    srv = server_factory()
    out = srv.cli("identity", "add", "acme", "split.test").stdout
    rsa_line = [l for l in out.splitlines() if "smtpsd1r._domainkey.split.test" in l][0]
    assert rsa_line.count('"') == 4, "the RSA record is two quoted strings of at most 255 octets"
    assert 'k=ed25519; p=' in out
    j = srv.cli_json("identity", "add", "acme", "json.test")
    kinds = [r["value"].split(";")[1].strip() for r in j["dns_records"] if "_domainkey" in r["name"]]
    assert kinds == ["k=ed25519", "k=rsa"]
    keydir = srv.root / "data" / "dkim" / "json.test"
    assert oct(keydir.stat().st_mode & 0o777) == "0o700"
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in keydir.iterdir())


def test_a_broken_key_file_stops_serve(server_factory):
    srv = server_factory(start=False)
    add_domain(srv)
    key = srv.root / "data" / "dkim" / "signed.test" / "smtpsd1r.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n")
    p = srv.cli("serve", check=False)
    assert p.returncode != 0
    assert str(key) in p.stderr and "not a PEM private key" in p.stderr
    key.unlink()
    p = srv.cli("serve", check=False)
    assert p.returncode != 0 and str(key) in p.stderr and "cannot read" in p.stderr


def test_unparseable_headers_are_refused_not_signed(signing):
    srv, sink, records = signing
    import smtplib
    with pytest.raises(smtplib.SMTPDataError) as e:
        send(srv, f"From: {SENDER}\r\nthis line is not a header\r\n\r\nbody\r\n".encode())
    assert e.value.smtp_code == 554 and b"5.6.0" in e.value.smtp_error


def test_rotation_waits_for_dns_then_retires(server_factory, sink_factory, dnsmasq_factory):
    sink = sink_factory()
    srv = server_factory(delivery=route_all(sink))
    old = add_domain(srv)
    new = {r["name"]: r["value"] for r in srv.cli_json("identity", "rotate-dkim", "acme", "signed.test")["dns_records"]}
    assert sorted(new) == ["smtpsd2e._domainkey.signed.test", "smtpsd2r._domainkey.signed.test"]

    send(srv, BODIES["plain"].encode())
    raw = sink.wait(1)[0]["data"]
    assert "s=smtpsd1e" in signatures(raw)[0], "pending keys do not sign"

    def txt(name, value):
        chunks = [value[i:i + 255] for i in range(0, len(value), 255)]
        return f"--txt-record={name}," + ",".join(chunks)

    # DNS without the new records: verify reports them missing and keeps the old keys.
    local = "--local=/signed.test/"  # answer "no such record" for the rest, instead of REFUSED
    dns1 = dnsmasq_factory([local] + [txt(n, v) for n, v in old.items() if "_domainkey" in n])
    conf = srv.config.read_text()
    srv.config.write_text(conf.replace("[delivery]\n", f'[delivery]\nresolvers = ["127.0.0.1:{dns1.port}"]\n'))
    report = srv.cli_json("identity", "verify", "acme", "signed.test")
    assert report["activated"] is False
    states = {d["name"]: (d["state"], d["dns"]) for d in report["dkim"]}
    assert states["smtpsd1e._domainkey.signed.test"] == ("active", "found")
    assert states["smtpsd2e._domainkey.signed.test"] == ("pending", "missing")
    assert report["spf"] == "missing" and report["dmarc"] == "missing"
    dns1.stop()

    # Published: verify switches signing to the new keys; the old ones stay listed.
    everything = {**old, **new}
    dns2 = dnsmasq_factory([local] + [txt(n, v) for n, v in everything.items()])
    srv.config.write_text(conf.replace("[delivery]\n", f'[delivery]\nresolvers = ["127.0.0.1:{dns2.port}"]\n'))
    report = srv.cli_json("identity", "verify", "acme", "signed.test")
    assert report["activated"] is True
    assert report["spf"] == "found" and report["dmarc"] == "found"
    listing = srv.cli_json("identity", "list", "acme")
    assert {i["identity"]: i["dkim"] for i in listing}["signed.test"] == "records found"

    send(srv, BODIES["plain"].encode())
    raw = sink.wait(2)[1]["data"]
    sigs, results = verify_all(raw, everything)
    assert "s=smtpsd2e" in sigs[0] and "s=smtpsd2r" in sigs[1] and results == [True, True]
    keys = json.loads((srv.root / "data" / "dkim" / "signed.test" / "keys.json").read_text())["keys"]
    assert {k["selector"]: k["state"] for k in keys} == {"smtpsd1e": "published", "smtpsd1r": "published",
                                                         "smtpsd2e": "active", "smtpsd2r": "active"}
    assert srv.cli_json("identity", "retire-dkim", "acme", "signed.test")["retired"] == 2
    assert not (srv.root / "data" / "dkim" / "signed.test" / "smtpsd1r.pem").exists()
