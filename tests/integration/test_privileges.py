"""Least privilege (issue 6): started as root, smtpsd binds, then runs as
`user`; as root without `user` it refuses unless allow_root says so."""
import os
import pwd
import subprocess
from pathlib import Path

import pytest

from conftest import PASSWORD, ROOT

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def test_refuses_to_serve_as_root_unless_told(server_factory):
    srv = server_factory(start=False)
    srv.config.write_text(srv.config.read_text().replace("allow_root = true\n", ""))
    p = srv.cli("serve", check=False)
    assert p.returncode == 1
    assert "refusing to serve client traffic as root" in p.stderr and str(srv.config) in p.stderr


def test_switches_to_the_configured_user_before_serving(server_factory):
    nobody = pwd.getpwnam("nobody")
    srv = server_factory(start=False)
    srv.config.write_text(srv.config.read_text().replace("allow_root = true\n", 'user = "nobody"\n'))
    subprocess.run(["chown", "-R", "nobody:", str(srv.root / "data")], check=True)
    for folder in srv.root.parents:  # pytest's temporary folders are 0700: let nobody through
        if folder == Path("/tmp") or folder == Path("/"):
            break
        folder.chmod(folder.stat().st_mode | 0o011)
    srv.start()
    status = Path(f"/proc/{srv.proc.pid}/status").read_text()
    uid_line = [l for l in status.splitlines() if l.startswith("Uid:")][0].split()
    assert uid_line[1:] == [str(nobody.pw_uid)] * 4, "real, effective, saved and fs uid all dropped"
    assert '"running as user nobody' in srv.log()
    with srv.smtp_ssl() as s:
        s.login("alice", PASSWORD)
        s.sendmail("alice@example.com", ["bob@example.org"], "From: alice@example.com\r\nSubject: x\r\n\r\nx\r\n")
    spool = list((srv.root / "data" / "spool").iterdir())
    assert spool and all(f.stat().st_uid == nobody.pw_uid for f in spool if f.is_file())
    assert srv.stop() == 0


def test_data_folder_and_keys_are_private(server_factory):
    srv = server_factory(start=False)
    srv.cli("identity", "add", "acme", "private.test")
    assert oct((srv.root / "data").stat().st_mode & 0o777) == "0o700"
    assert oct((srv.root / "tls" / "key.pem").stat().st_mode & 0o777) == "0o600"
    for key in (srv.root / "data" / "dkim" / "private.test").iterdir():
        assert oct(key.stat().st_mode & 0o777) == "0o600"


def test_the_systemd_unit_is_sandboxed():
    unit = (ROOT / "packaging" / "smtpsd.service").read_text()
    for line in ["Type=notify", "NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/smtpsd",
                 "CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID", "ExecReload=/bin/kill -HUP $MAINPID"]:
        assert line in unit
    if subprocess.run(["which", "systemd-analyze"], capture_output=True).returncode == 0:
        p = subprocess.run(["systemd-analyze", "verify", str(ROOT / "packaging" / "smtpsd.service")], capture_output=True,
                           text=True)
        assert "Unknown key" not in p.stderr and "Invalid" not in p.stderr, p.stderr
