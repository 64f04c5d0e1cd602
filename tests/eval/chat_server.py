"""A real OpenAI-compatible chat server on 127.0.0.1 for tests (http.server in a thread)."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image


class ChatServer:
    """Answers "Answer: <n images>"; `fail_first` makes the first N requests return HTTP 500; `reply` overrides."""

    def __init__(self, fail_first: int = 0, reply=None):
        self.requests: list[dict] = []
        self.fail_left = fail_first
        self.reply = reply
        self.lock = threading.Lock()
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.requests.append({"body": body, "auth": self.headers.get("Authorization")})
                    fail = outer.fail_left > 0
                    outer.fail_left -= fail
                if fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                parts = [p for m in body["messages"] for p in (m["content"] if isinstance(m["content"], list)
                                                                 else [{"type": "text", "text": m["content"]}])]
                imgs = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
                sizes = [Image.open(io.BytesIO(base64.b64decode(u.split(",", 1)[1]))).size for u in imgs]
                text = " ".join(p.get("text", "") for p in parts if p["type"] == "text")
                content = outer.reply(body, text, sizes) if outer.reply else f"Answer: {len(imgs)}"
                out = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                                  "choices": [{"index": 0, "finish_reason": "stop",
                                               "message": {"role": "assistant", "content": content}}],
                                  "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
