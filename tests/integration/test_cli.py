"""The command line (issue 2 part): init, account, credential, queue; -c and
--json anywhere; errors on stderr with a non-zero status."""
import json
import os
import stat
import subprocess

from conftest import BIN, PASSWORD, run_cli


def test_init_writes_everything_and_refuses_to_overwrite(tmp_path):
    d = tmp_path / "site"
    out = json.loads(run_cli("init", str(d), "--hostname", "mx.example.com", "--json").stdout)
    assert out["hostname"] == "mx.example.com"
    text = (d / "smtpsd.toml").read_text()
    for port, mode in [(465, "implicit-tls"), (2465, "implicit-tls"), (587, "starttls"), (2587, "starttls"),
                       (2525, "starttls")]:
        assert f'address = "0.0.0.0:{port}"\nmode = "{mode}"' in text
    assert stat.S_IMODE(os.stat(d / "tls" / "key.pem").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(d / "data").st_mode) == 0o700
    cert = subprocess.run(["openssl", "x509", "-in", str(d / "tls/cert.pem"), "-noout", "-text"],
                          capture_output=True, text=True).stdout
    assert "DNS:mx.example.com" in cert and "ASN1 OID: prime256v1" in cert
    again = run_cli("init", str(d), check=False)
    assert again.returncode != 0 and "already exists" in again.stderr


def test_accounts_and_credentials_json(tmp_path):
    d = tmp_path / "site"
    run_cli("init", str(d))
    conf = str(d / "smtpsd.toml")
    # -c and --json before or after the subcommand
    acct = json.loads(run_cli("-c", conf, "--json", "account", "add", "acme", "--max-send-rate", "5").stdout)
    assert acct["name"] == "acme" and acct["max_send_rate"] == 5 and acct["max_24h"] == 50000
    assert acct["suspended"] is False and acct["created"].endswith("Z")
    dup = run_cli("account", "add", "acme", "-c", conf, check=False)
    assert dup.returncode == 1 and "already exists" in dup.stderr
    gen = json.loads(run_cli("credential", "add", "acme", "--json", "-c", conf).stdout)
    assert len(gen["password"]) >= 20 and gen["username"]
    given = json.loads(run_cli("credential", "add", "acme", "--username", "u2", "--password-stdin", "--json",
                               config=conf, input=PASSWORD + "\n").stdout)
    assert given == {"username": "u2", "password": None, "account": "acme"}
    creds = json.loads(run_cli("credential", "list", "acme", "--json", config=conf).stdout)
    assert sorted(c["username"] for c in creds) == sorted([gen["username"], "u2"])
    assert all("password" not in c and "hash" not in c for c in creds)
    db = (d / "data" / "smtpsd.db").read_bytes()
    assert PASSWORD.encode() not in db and b"$argon2id$" in db
    assert json.loads(run_cli("credential", "revoke", "u2", "--json", config=conf).stdout) == {"revoked": "u2"}
    shown = json.loads(run_cli("account", "show", "acme", "--json", config=conf).stdout)
    assert shown["max_send_rate"] == 5
    listed = json.loads(run_cli("account", "list", "--json", config=conf).stdout)
    assert [a["name"] for a in listed] == ["acme"]


def test_cli_errors_name_the_problem(tmp_path):
    d = tmp_path / "site"
    run_cli("init", str(d))
    conf = str(d / "smtpsd.toml")
    p = run_cli("account", "show", "ghost", config=conf, check=False)
    assert p.returncode == 1 and 'no account named "ghost"' in p.stderr and p.stdout == ""
    p = run_cli("account", "add", "bad name", config=conf, check=False)
    assert p.returncode == 1 and "may use only" in p.stderr
    p = run_cli("account", "add", "x", "--max-send-rate", "-3", config=conf, check=False)
    assert p.returncode == 1 and "--max-send-rate" in p.stderr
    p = run_cli("queue", "show", "nonsense", config=conf, check=False)
    assert p.returncode == 1 and "not a queue id" in p.stderr
    p = subprocess.run([BIN, "account", "list", "-c", str(tmp_path / "missing.toml")], capture_output=True, text=True)
    assert p.returncode == 1 and "missing.toml" in p.stderr
    p = subprocess.run([BIN, "frobnicate"], capture_output=True, text=True)
    assert p.returncode != 0


def test_serve_refuses_a_bad_config_naming_file_line_and_key(tmp_path):
    d = tmp_path / "site"
    run_cli("init", str(d))
    conf = d / "smtpsd.toml"
    conf.write_text(conf.read_text().replace('mode = "starttls"', 'mode = "tls"', 1))
    p = subprocess.run([BIN, "serve", "-c", str(conf)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    lineno = next(i for i, l in enumerate(conf.read_text().splitlines(), 1) if 'mode = "tls"' in l)
    assert f"{conf}:{lineno}: listeners[2].mode:" in p.stderr, p.stderr


def test_queue_list_empty_json(tmp_path):
    d = tmp_path / "site"
    run_cli("init", str(d))
    assert json.loads(run_cli("queue", "list", "--json", config=str(d / "smtpsd.toml")).stdout) == []


def test_identity_and_suppression_cli(tmp_path):
    d = tmp_path / "site"
    run_cli("init", str(d), "--hostname", "mail.example.net")
    conf = str(d / "smtpsd.toml")
    run_cli("account", "add", "acme", config=conf)
    out = json.loads(run_cli("identity", "add", "acme", "Example.COM", "--json", config=conf).stdout)
    assert out["identity"] == "example.com"
    records = {r["name"]: r for r in out["dns_records"]}
    assert records["example.com"]["type"] == "TXT" and "v=spf1" in records["example.com"]["value"]
    assert "mail.example.net" in records["example.com"]["value"]
    assert records["_dmarc.example.com"]["value"].startswith("v=DMARC1;")
    uni = json.loads(run_cli("identity", "add", "acme", "bücher.example", "--json", config=conf).stdout)
    assert uni["identity"] == "xn--bcher-kva.example"
    run_cli("identity", "add", "acme", "Bob@Example.org", config=conf)
    listed = json.loads(run_cli("identity", "list", "acme", "--json", config=conf).stdout)
    assert {(i["identity"], i["kind"]) for i in listed} == {
        ("example.com", "domain"), ("xn--bcher-kva.example", "domain"), ("Bob@example.org", "address")}
    for bad, words in [("@", "nothing before the @"), ("a@@b.example", "more than one @"), ("", "is empty"),
                       ("no_dot", "domain")]:
        p = run_cli("identity", "add", "acme", bad, config=conf, check=False)
        assert p.returncode == 1 and words in p.stderr, (bad, p.stderr)
    p = run_cli("identity", "add", "ghost", "example.com", config=conf, check=False)
    assert p.returncode == 1 and 'no account named "ghost"' in p.stderr
    assert run_cli("identity", "remove", "acme", "EXAMPLE.com", config=conf).returncode == 0
    sup = json.loads(run_cli("suppression", "add", "X@Example.org", "--json", config=conf).stdout)
    assert sup["address"] == "x@example.org" and sup["reason"] == "manual"
    assert run_cli("suppression", "add", "x@example.org", config=conf, check=False).returncode == 1
    assert run_cli("suppression", "add", "not-an-address", config=conf, check=False).returncode == 1
    assert json.loads(run_cli("suppression", "remove", "x@example.org", "--json", config=conf).stdout) == {
        "removed": "x@example.org"}


def test_absurd_limits_are_refused(tmp_path):
    d = tmp_path / "site"
    run_cli("init", str(d))
    conf = str(d / "smtpsd.toml")
    run_cli("account", "add", "acme", config=conf)
    for args in [["--max-24h", "0"], ["--max-24h", "1.5"], ["--max-send-rate", "abc"], ["--max-message-bytes", "10"],
                 ["--suspended", "maybe"]]:
        p = run_cli("account", "set", "acme", *args, config=conf, check=False)
        assert p.returncode == 1 and args[0] in p.stderr, (args, p.stderr)
