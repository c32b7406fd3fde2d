"""The README's "First message in a minute", run as written: its shell
blocks, against the configuration `make run` creates (`smtpsd init`), with
only the ports moved to free loopback ones and delivery off (no outside
network in tests). If a newcomer's copy and paste would fail, this fails."""
import json
import os
import re
import subprocess

from conftest import BIN, ROOT, Server, run_cli, wait_for

README = ROOT / "README.md"


def first_message_blocks():
    text = README.read_text()
    section = text[text.index("## First message in a minute"):]
    section = section[:section.index("\n## ", 3)]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def make_run_server(tmp_path):
    root = tmp_path / "run"
    run_cli("init", str(root))  # what `make run` does
    config = (root / "smtpsd.toml").read_text()
    config = re.sub(r'address = "0\.0\.0\.0:\d+"', 'address = "127.0.0.1:0"', config)
    config = config.replace('listen = "127.0.0.1:8025"', 'listen = "127.0.0.1:0"')
    config = re.sub(r"(\[delivery\]\n(?:[^\[].*\n)*?)enabled = true", r"\1enabled = false", config)
    assert "enabled = false" in config
    return Server(root, config).start()


def run_block(block, srv, cwd):
    """The block with the binary, the configuration and the port moved; every line must succeed."""
    port = int(re.findall(r'"msg":"listening on 127\.0\.0\.1:(\d+) mode=implicit-tls', srv.log())[0])
    script = block.replace("build/release/src/smtpsd", BIN).replace("run/smtpsd.toml", str(srv.config))
    # smtpsd send picks implicit TLS by itself on 465; on the test's port it is told.
    script = script.replace("$B send --server 127.0.0.1:465", f"$B send --server 127.0.0.1:{port} --mode implicit-tls")
    script = script.replace("127.0.0.1:465", f"127.0.0.1:{port}").replace("'127.0.0.1', 465", f"'127.0.0.1', {port}")
    assert str(port) in script
    env = {k: v for k, v in os.environ.items() if k != "SMTPSD_PASSWORD"}
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_readme_first_message_works_as_written(tmp_path):
    blocks = first_message_blocks()
    assert len(blocks) == 2, "the commands, then the same with swaks, curl and Python"
    srv = make_run_server(tmp_path)
    try:
        first = run_block(blocks[0], srv, tmp_path)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "someone@example.org" in first.stdout, "queue list shows the message"
        others = run_block(blocks[1], srv, tmp_path)
        assert others.returncode == 0, others.stdout + others.stderr

        def queued():
            return len(json.loads(run_cli("--json", "queue", "list", config=srv.config).stdout))
        wait_for(lambda: queued() == 4, 20, what="four messages (smtpsd send, swaks, curl, Python) in the queue")
    finally:
        srv.stop()


def test_make_run_prints_the_first_message_steps():
    """`make run` prints the README's first block when it creates ./run/ (the Makefile extracts it)."""
    out = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(ROOT), "first-steps"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == first_message_blocks()[0].strip()
