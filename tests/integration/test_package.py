"""The Debian package (make deb, cmake/package.cmake): built with cpack from
this build tree, lintian without errors, installed with dpkg -i, then the
installed service started as its unit starts it (directly: systemd is not
PID 1 here) and a message sent through it; purged at the end.

It needs root, as dpkg does (CI runs as root), and leaves an smtpsd package
that was already installed alone."""
import os
import pathlib
import pwd
import re
import shlex
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import tempfile

import pytest


BIN = pathlib.Path(os.environ["SMTPSD_BIN"])
BUILD = BIN.parent.parent
PASSWORD = "a long secret password"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="dpkg -i needs root")


def installed():
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "smtpsd"], capture_output=True, text=True)
    return "install ok installed" in p.stdout


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    out = tmp_path_factory.mktemp("deb")
    p = subprocess.run(["cpack", "-G", "DEB", "--config", str(BUILD / "CPackConfig.cmake"), "-B", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    debs = list(out.glob("smtpsd_*_amd64.deb"))
    assert len(debs) == 1, list(out.iterdir())
    return debs[0]


def test_the_package_has_no_lintian_errors(deb):
    p = subprocess.run(["lintian", "--tag-display-limit", "0", str(deb)], capture_output=True, text=True, timeout=600)
    errors = [line for line in p.stdout.splitlines() if line.startswith("E:")]
    assert errors == [], p.stdout + p.stderr
    fields = subprocess.run(["dpkg-deb", "-f", str(deb)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Depends:.*\badduser\b", fields, re.M), fields
    assert re.search(r"^Depends:.*\blibssl3\b", fields, re.M), "shared-library dependencies: " + fields


def smtpsd(*args, input=None):
    return subprocess.run(["/usr/bin/smtpsd", *args], input=input, capture_output=True, text=True, timeout=60)


def owners(folder):
    return {p: pwd.getpwuid(p.stat().st_uid).pw_name for p in pathlib.Path(folder).rglob("*")}


def test_install_serve_send_and_purge(deb, tmp_path):
    if installed():
        pytest.skip("an smtpsd package is installed on this machine; not touching it")
    server = notify_dir = None
    try:
        p = subprocess.run(["dpkg", "-i", str(deb)], capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr

        user = pwd.getpwnam("smtpsd")
        assert user.pw_dir == "/var/lib/smtpsd" and user.pw_shell.endswith("nologin")
        unit = pathlib.Path("/lib/systemd/system/smtpsd.service").read_text()
        assert "Type=notify" in unit and "ProtectSystem=strict" in unit
        conf = pathlib.Path("/etc/smtpsd/smtpsd.toml").read_text()
        assert re.search(r'^user = "smtpsd"', conf, re.M) and re.search(r'^data_dir = "/var/lib/smtpsd"', conf, re.M)
        assert not re.search(r"^allow_root", conf, re.M)
        assert oct(pathlib.Path("/var/lib/smtpsd").stat().st_mode & 0o777) == "0o700"

        # An operator's commands, as root: the CLI switches to the service user.
        for args, stdin in [(["account", "add", "acme"], None), (["identity", "add", "acme", "example.com"], None),
                            (["credential", "add", "acme", "--username", "alice", "--password-stdin"], PASSWORD + "\n")]:
            r = smtpsd(*args, input=stdin)
            assert r.returncode == 0, (args, r.stdout, r.stderr)
        assert [str(p) for p, who in owners("/var/lib/smtpsd").items() if who != "smtpsd"] == []

        # The unit's command line, with the listeners moved to free loopback ports.
        exec_start = shlex.split(re.search(r"^ExecStart=(.*)$", unit, re.M).group(1))
        assert exec_start == ["/usr/bin/smtpsd", "serve", "-c", "/etc/smtpsd/smtpsd.toml"]
        test_conf = pathlib.Path("/etc/smtpsd/test-ports.toml")
        test_conf.write_text(re.sub(r'^(address|listen) = "[^"]+"', r'\1 = "127.0.0.1:0"', conf, flags=re.M))
        # The notification socket, reachable by the server once it is smtpsd
        # (systemd's own is too).
        notify_dir = pathlib.Path(tempfile.mkdtemp(prefix="smtpsd-notify-"))
        notify_dir.chmod(0o711)
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(notify_dir / "notify"))
        (notify_dir / "notify").chmod(0o777)
        notify.settimeout(60)
        log = open(tmp_path / "serve.log", "w")
        server = subprocess.Popen(exec_start[:-1] + [str(test_conf)], stdout=log, stderr=log,
                                  env={**os.environ, "NOTIFY_SOCKET": str(notify_dir / "notify")})
        assert b"READY=1" in notify.recv(4096), "Type=notify: READY=1 once serving"
        status = pathlib.Path(f"/proc/{server.pid}/status").read_text()
        assert re.search(rf"^Uid:\s+{user.pw_uid}\s", status, re.M), "serving as smtpsd, not root"
        text = (tmp_path / "serve.log").read_text()
        port = int(re.search(r'listening on 127\.0\.0\.1:(\d+) mode=implicit-tls', text).group(1))

        ctx = ssl.create_default_context(cafile="/etc/smtpsd/tls/cert.pem")
        ctx.check_hostname = False  # the certificate names this machine's host name
        with smtplib.SMTP_SSL("127.0.0.1", port, context=ctx, timeout=30) as s:
            s.login("alice", PASSWORD)
            s.sendmail("alice@example.com", ["bob@example.org"],
                       b"From: alice@example.com\r\nTo: bob@example.org\r\nSubject: packaged\r\n\r\nhello\r\n")
        # No DNS here: example.org bounces at once; the events say it went through.
        r = smtpsd("--json", "events", "tail", "--type", "send")
        assert r.returncode == 0, r.stderr
        assert "bob@example.org" in r.stdout, r.stdout

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0
        server = None
        left = [str(p) for p, who in owners("/var/lib/smtpsd").items() if who != "smtpsd"]
        assert left == [], "nothing in the data folder left to root"
    finally:
        if server:
            server.kill()
            server.wait()
        p = subprocess.run(["dpkg", "--purge", "smtpsd"], capture_output=True, text=True, timeout=300)
        if notify_dir:
            shutil.rmtree(notify_dir, ignore_errors=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert not installed()
    assert not pathlib.Path("/etc/smtpsd").exists() and not pathlib.Path("/var/lib/smtpsd").exists()
