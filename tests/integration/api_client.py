"""A small client of smtpsd's HTTP API (SPEC §8) for the tests: one
keep-alive connection, JSON in and out, any header or raw body on demand."""
import http.client
import json

QUEUE_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def queue_id(n):
    """The n-th of a run of valid queue ids (16 characters of Crockford base 32), for rows written straight
    into the store."""
    out = ""
    for _ in range(16):
        out = QUEUE_ID_ALPHABET[n % 32] + out
        n //= 32
    return out


class Api:
    def __init__(self, srv, token=None, tls_context=None):
        self.port = srv.admin_port
        self.token = token
        self.tls_context = tls_context
        self.conn = None

    def _connect(self):
        if self.tls_context:
            return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.tls_context, timeout=30)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(self, method, path, body=None, token=..., headers=None, raw=None):
        """(status, decoded JSON or text, response headers)."""
        token = self.token if token is ... else token
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        for attempt in range(2):  # the server may have closed an idle keep-alive connection
            if self.conn is None:
                self.conn = self._connect()
            try:
                self.conn.request(method, path, body=data, headers=h)
                res = self.conn.getresponse()
                payload = res.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        if res.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        ctype = res.getheader("Content-Type", "")
        decoded = json.loads(payload) if ctype.startswith("application/json") else payload.decode(errors="replace")
        return res.status, decoded, dict(res.getheaders())

    def get(self, path, **kw):
        return self.ok("GET", path, **kw)

    def ok(self, method, path, body=None, expect=None, **kw):
        status, data, _ = self.request(method, path, body, **kw)
        want = expect or ((200, 201) if method in ("POST",) else (200,))
        assert status in (want if isinstance(want, tuple) else (want,)), (method, path, status, data)
        return data

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None


def make_token(srv, name="test", read_only=False):
    args = ["token", "add", name] + (["--read-only"] if read_only else [])
    return srv.cli_json(*args)["token"]
