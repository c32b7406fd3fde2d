"""A mail sink for delivery tests: aiosmtpd (Debian's python3-aiosmtpd) in a
thread of the test process, so tests read what arrived directly.

Recipients steer the answers: a local part starting with `reject` gets
`550 5.1.1`, one starting with `temp` gets `451 4.3.0` while `hold_temp` is
set, everything else is accepted. `data_delay` slows the reply after DATA so
tests can catch deliveries in flight. With `tls_context` the sink offers
STARTTLS; each message records whether it arrived inside TLS.
"""
import asyncio
import threading
import time

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, smtputf8=True, data_delay=0.0, tls_context=None):
        self.messages = []  # dicts: from, rcpts, data (bytes), mail_options
        self.hold_temp = True
        self.data_delay = data_delay
        self.tls_context = tls_context
        self.smtputf8 = smtputf8
        self.data_started = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self):
        asyncio.set_event_loop(self._loop)
        sink = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                local = address.split("@")[0]
                if local.startswith("reject"):
                    return "550 5.1.1 <%s>: Recipient address rejected: no such user" % address
                if local.startswith("temp") and sink.hold_temp:
                    return "451 4.3.0 <%s>: try again later" % address
                envelope.rcpt_tos.append(address)
                return "250 2.1.5 OK"

            async def handle_DATA(self, server, session, envelope):
                with sink._lock:
                    sink.data_started += 1
                if sink.data_delay:
                    await asyncio.sleep(sink.data_delay)
                with sink._lock:
                    sink.messages.append({
                        "from": envelope.mail_from,
                        "rcpts": list(envelope.rcpt_tos),
                        "data": envelope.original_content,
                        "mail_options": list(envelope.mail_options),
                        "tls": session.ssl is not None,
                    })
                return "250 2.0.0 Ok: stored"

        def factory():
            return SMTP(Handler(), enable_SMTPUTF8=self.smtputf8, decode_data=False, hostname="sink.test",
                        ident="sink", tls_context=sink.tls_context, require_starttls=False)

        self._server = self._loop.run_until_complete(self._loop.create_server(factory, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        # Sessions still open (smtpsd keeps connections for reuse) are
        # cancelled and awaited, so the loop closes without pending tasks.
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    def received(self):
        with self._lock:
            return list(self.messages)

    def wait(self, count, timeout=20, what="messages at the sink"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received()
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {count} {what}; got {len(self.received())}")

    def close(self):
        def stop():
            self._server.close()
            self._loop.stop()
        self._loop.call_soon_threadsafe(stop)
        self._thread.join(10)
