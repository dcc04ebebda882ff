"""A local HTTP server that records what it is sent and answers as scripted: a stand-in
for a vendor's API in integration and end-to-end tests.

    with RecordingServer() as server:
        server.answer("GET", "/admin/api/2024-10/orders/1/fulfillments.json", body={"fulfillments": []})
        server.answer("POST", "/admin/api/2024-10/fulfillments.json",
                      sequence=[(503, {"errors": "busy"}, {"Retry-After": "2"}), (201, {"fulfillment": {}})])
        ...  # point the client at server.url
        assert server.requests[-1]["body"] == {...}

Rules:
- the first rule that matches wins (rules are tried in the order they were added);
- a rule's path without "?" matches the request's path whatever its query; a path with "?"
  must match the path and query exactly;
- a rule answers the same every time, or with `sequence` answers each call with the next
  (status, body[, headers]) and repeats the last one when the sequence runs out, or with
  `respond` calls it with the recorded request and sends the (status, body[, headers]) it returns
  (a stand-in that keeps state);
- a body that is a dict or list is sent as JSON; str and bytes are sent as they are; None
  sends an empty body;
- a request no rule matches gets 404 {"errors": "Not Found"} (Shopify's own answer).

Each recorded request is a dict: method, path (with its query), headers (names lower-cased),
body (parsed JSON, or None when empty or not JSON) and raw (the bytes)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NOT_FOUND = (404, {"errors": "Not Found"}, {})


class _Rule:
    def __init__(self, method: str, path: str, replies: list[tuple], delay: float, respond=None):
        self.method, self.path, self.delay, self.respond = method.upper(), path, delay, respond
        self.replies = [(reply[0], reply[1] if len(reply) > 1 else None, reply[2] if len(reply) > 2 else {})
                        for reply in replies]
        self.calls = 0

    def matches(self, method: str, path: str) -> bool:
        wanted = path if "?" in self.path else path.split("?", 1)[0]
        return method == self.method and wanted == self.path

    def next_reply(self, request: dict) -> tuple:
        if self.respond is not None:
            self.calls += 1
            reply = self.respond(request)
            return reply[0], reply[1] if len(reply) > 1 else None, reply[2] if len(reply) > 2 else {}
        reply = self.replies[min(self.calls, len(self.replies) - 1)]
        self.calls += 1
        return reply


class RecordingServer:
    def __init__(self):
        self.requests: list[dict] = []
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="recording-server", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def answer(self, method: str, path: str, status: int = 200, body=None, headers: dict | None = None, *,
               sequence: list[tuple] | None = None, delay: float = 0.0, respond=None) -> None:
        """Script the answer to `method path`; `delay` (seconds) holds each answer back."""
        replies = sequence or [(status, body, headers or {})]
        with self._lock:
            self._rules.append(_Rule(method, path, list(replies), delay, respond))

    def __enter__(self) -> RecordingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ---- the request handler ----------------------------------------------------------------

    def _reply_for(self, method: str, path: str, request: dict) -> tuple[tuple, float]:
        with self._lock:
            rule = next((rule for rule in self._rules if rule.matches(method, path)), None)
            if rule is None:
                return NOT_FOUND, 0.0
            if rule.respond is None:
                return rule.next_reply(request), rule.delay
        return rule.next_reply(request), rule.delay  # a stand-in keeps its own state (and may wait)

    def _record(self, method: str, path: str, headers, raw: bytes) -> dict:
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        request = {"method": method, "path": path, "body": body, "raw": raw,
                   "headers": {name.lower(): value for name, value in headers.items()}}
        with self._lock:
            self.requests.append(request)
        return request

    def _handler_class(self):
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                request = recorder._record(self.command, self.path, self.headers, raw)
                (status, body, headers), delay = recorder._reply_for(self.command, self.path, request)
                if delay:
                    time.sleep(delay)
                payload, content_type = _encode(body)
                try:
                    self.send_response(status)
                    if content_type and not any(name.lower() == "content-type" for name in headers):
                        self.send_header("Content-Type", content_type)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test); nothing left to tell it

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
                pass  # keep test output quiet

        return Handler


def _encode(body) -> tuple[bytes, str | None]:
    if body is None:
        return b"", None
    if isinstance(body, bytes):
        return body, None
    if isinstance(body, str):
        return body.encode(), "text/plain; charset=utf-8"
    return json.dumps(body).encode(), "application/json; charset=utf-8"
