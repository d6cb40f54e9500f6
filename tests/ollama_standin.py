"""A protocol stand-in for an Ollama server (no Ollama can be installed here).

It speaks the parts of Ollama's HTTP API the client uses: ``GET /api/tags`` (installed models),
``POST /api/chat`` (streaming NDJSON chunks, final ``done: true``) and ``GET /api/version``.
It binds 127.0.0.1 on a free port and records the requests it saw.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class OllamaStandIn:
    def __init__(self, models: list[str], reply: str = "", break_after: int | None = None, delay: float = 0.0) -> None:
        self.models = models
        self.reply = reply
        self.break_after = break_after
        self.delay = delay
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def _json(self, code: int, obj: dict) -> None:
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == "/api/tags":
                    self._json(200, {"models": [{"name": m, "model": m, "modified_at": "2026-01-01T00:00:00Z",
                                                 "size": 1, "digest": "0" * 64, "details": {}} for m in outer.models]})
                elif self.path == "/api/version":
                    self._json(200, {"version": "0.0.0-standin"})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                req = json.loads(self.rfile.read(length) or b"{}")
                outer.requests.append({"path": self.path, **req})
                if self.path != "/api/chat":
                    self._json(404, {"error": "not found"})
                    return
                if req.get("model") not in outer.models:
                    self._json(404, {"error": f"model \"{req.get('model')}\" not found, try pulling it first"})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                words = outer.reply.split(" ")
                for i, w in enumerate(words):
                    if outer.break_after is not None and i >= outer.break_after:
                        self.wfile.flush()
                        self.connection.shutdown(2)  # the stream breaks half-way
                        return
                    time.sleep(outer.delay)
                    piece = (w if i == 0 else " " + w)
                    self._chunk({"model": req["model"], "created_at": "2026-01-01T00:00:00Z",
                                 "message": {"role": "assistant", "content": piece}, "done": False})
                self._chunk({"model": req["model"], "created_at": "2026-01-01T00:00:00Z",
                             "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop",
                             "total_duration": 1, "prompt_eval_count": 10, "eval_count": len(words)})
                self.wfile.write(b"0\r\n\r\n")

            def _chunk(self, obj: dict) -> None:
                data = (json.dumps(obj) + "\n").encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> OllamaStandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
