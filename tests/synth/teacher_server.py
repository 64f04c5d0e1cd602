"""A real HTTP server on 127.0.0.1 speaking POST /v1/chat/completions, with scripted replies, for generator tests.

Each request pops the next scripted behaviour (or uses `default`): ("json", obj) replies with obj as the message
content, ("text", s) with raw content s, ("status", code) with that HTTP error, ("sleep", seconds, behaviour) waits
first, ("fn", f) replies with f(request body) as the message content object (a teacher that reads the prompt).
Requests (parsed JSON bodies) are kept in `requests`. A build's preflight request (its one tiny chat request) is
answered with `preflight` (default: text "OK") and kept in `preflights`, not `requests`; GET /v1/models lists
`models` when set (None: 404, a server without a model list). `max_in_flight`: the most requests answered at once. ("trickle", s, seconds) sends the reply s one byte
every `seconds`; ("echo_auth", code) answers HTTP `code` with the request's Authorization header in the message; ("raw", code, bytes)
sends that body as is; ("reset",) resets the connection without a reply.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class TeacherServer:
    def __init__(self):
        self.script: list[tuple] = []
        self.default: tuple = ("status", 500)
        self.requests: list[dict] = []
        self.auth: list[str] = []
        self.preflight: tuple = ("text", "OK")
        self.preflights: list[dict] = []
        self.models: list[str] | None = None
        self.in_flight = 0           # chat requests being answered now, and the most at once (`max_in_flight`)
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_GET(self):
                if self.path != "/v1/models" or server.models is None:
                    return self._send(404, {"error": {"message": "not found"}})
                self._send(200, {"object": "list", "data": [{"id": m, "object": "model", "created": 0,
                                                             "owned_by": "test"} for m in server.models]})

            def do_POST(self):
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._post()
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _post(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                first = (body.get("messages") or [{}])[0].get("content")
                with server._lock:
                    if first == "mmprolong preflight: reply with OK":
                        server.preflights.append(body)
                        beh = server.preflight
                    else:
                        server.requests.append(body)
                        server.auth.append(self.headers.get("Authorization", ""))
                        beh = server.script.pop(0) if server.script else server.default
                if self.path != "/v1/chat/completions":
                    beh = ("status", 404)
                while beh[0] == "sleep":
                    time.sleep(beh[1])
                    beh = beh[2]
                if beh[0] == "fn":
                    beh = ("json", beh[1](body))
                try:
                    if beh[0] == "reset":
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        self.close_connection = True
                        self.connection.close()
                        return
                    if beh[0] == "raw":
                        self.send_response(beh[1])
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(beh[2])))
                        self.end_headers()
                        self.wfile.write(beh[2])
                        return
                    if beh[0] == "echo_auth":
                        return self._send(beh[1], {"error": {"message": "invalid key: " + self.headers.get(
                            "Authorization", ""), "type": "invalid_request_error"}})
                    if beh[0] == "trickle":
                        data = json.dumps(self._completion(body, beh[1])).encode()
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        for b in data:
                            self.wfile.write(bytes([b]))
                            self.wfile.flush()
                            time.sleep(beh[2])
                        return
                    if beh[0] == "status":
                        self._send(beh[1], {"error": {"message": "scripted failure", "type": "server_error"}},
                                   {"retry-after-ms": "10"})
                    else:
                        content = json.dumps(beh[1]) if beh[0] == "json" else beh[1]
                        self._send(200, self._completion(body, content))
                except (BrokenPipeError, ConnectionResetError):
                    pass

            @staticmethod
            def _completion(body, content):
                return {"id": "chatcmpl-test", "object": "chat.completion", "created": 0,
                        "model": body.get("model", ""),
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": content}}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}

            def _send(self, code, obj, headers=None):
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
