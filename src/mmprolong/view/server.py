"""The view's local HTTP server: static page + JSON API over the opened folders, on 127.0.0.1 only.

Routes (i = the folder's index in the command line):
  /                                   the page (static/index.html; app.js, app.css beside it)
  /api/sources                        the folders: kind and title
  /api/<i>/info                       counts and filter values
  /api/<i>/items?filters&offset&limit one page of items (server-side filtering and paging)
  /api/<i>/item?id=                   one item in full
  /api/<i>/image?doc=&page=[&w=]      a page JPEG from the page store (w: a thumbnail's width)
  /api/<i>/grade/next?grader=         the next item of the grading sample this grader has not graded
  POST /api/<i>/grade                 {id, grade, note, grader}: appended durably, then answered
  /api/diff?a=&b=&filters             questions where two runs differ
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from . import grades as G
from .build_data import BuildData
from .eval_data import EvalRunData, EvalSetData, diff

log = logging.getLogger(__name__)

STATIC = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
          "app.css": "text/css; charset=utf-8"}


def open_folder(path: str | Path, store: str | None = None):
    """The view's data for a folder: a build, an eval set or an eval run (ValueError naming what it holds)."""
    from ..run.outdir import detect_kind

    p = Path(path)
    if "://" not in str(path) and not p.is_dir():
        raise FileNotFoundError(f"{path}: no such folder")
    kind = "eval-set" if "://" in str(path) else detect_kind(p)
    if kind == "eval-report" and (p / "predictions.jsonl").exists():
        kind = "eval-run"
    if kind == "build":
        return BuildData(p, store)
    if kind == "eval-set":
        return EvalSetData(path, store)
    if kind == "eval-run":
        return EvalRunData(p, store)
    raise ValueError(f"{path}: holds {kind or 'nothing mmprolong wrote'}; `view` opens a build, an eval set "
                     "or an eval run")


@dataclass
class ViewConfig:
    grader: str = "grader"
    sample: int = 100        # items in the grading sample
    seed: int = 0


@dataclass
class View:
    sources: list
    config: ViewConfig = field(default_factory=ViewConfig)

    def __post_init__(self):
        self._orders: dict[int, list[dict]] = {}
        self._lock = threading.Lock()

    def sample(self, i: int) -> list[dict]:
        """The grading sample of build i: its first `sample` kept items in the seeded stratified order."""
        with self._lock:
            if i not in self._orders:
                t = self.sources[i].kept_items().to_pylist()
                order = G.sample_order([(r["qa_id"], r["task"]) for r in t], self.config.seed)
                self._orders[i] = [t[k] for k in order[:self.config.sample]]
            return self._orders[i]

    def next_to_grade(self, i: int, grader: str) -> dict:
        src = self.sources[i]
        sample = self.sample(i)
        done = {q for (g, q) in G.read_grades(src.folder, grader)}
        left = [r for r in sample if r["qa_id"] not in done]
        out = {"grader": G.grader_name(grader), "n": len(sample), "graded": len(sample) - len(left),
               "file": str(G.grades_path(src.folder, grader))}
        if left:
            out["item"] = src.item(left[0]["id"])
            out["position"] = sample.index(left[0]) + 1
        return out

    def grade(self, i: int, body: dict) -> dict:
        src = self.sources[i]
        item = src.item(body["id"])
        if item["status"] != "kept":
            raise ValueError("only kept items are graded")
        return G.append_grade(src.folder, body.get("grader") or self.config.grader, item["qa_id"], body["grade"],
                              body.get("note", ""), item.get("task", ""), body["id"])


def _handler(view: View):
    class H(BaseHTTPRequestHandler):
        server_version = "mmprolong-view"

        def log_message(self, fmt, *args):
            log.debug("%s %s", self.address_string(), fmt % args)

        def _send(self, code: int, body: bytes, ctype: str, cache: bool = False) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, obj, code: int = 200) -> None:
            self._send(code, json.dumps(obj, ensure_ascii=False, default=str).encode(), "application/json")

        def _source(self, parts: list[str]):
            i = int(parts[1])
            if not 0 <= i < len(view.sources):
                raise KeyError(f"no folder {i}")
            return i, view.sources[i]

        def do_GET(self):
            self.server.last_request = time.monotonic()
            url = urlparse(self.path)
            q = {k: v[-1] for k, v in parse_qs(url.query).items()}
            parts = [p for p in url.path.split("/") if p]
            try:
                if not parts or parts == ["index.html"]:
                    return self._static("index.html")
                if parts[0] == "static" and len(parts) == 2 and parts[1] in STATIC:
                    return self._static(parts[1])
                if parts[:2] == ["api", "sources"]:
                    return self._json([{"i": i, "kind": s.kind, "title": s.title}
                                       for i, s in enumerate(view.sources)])
                if parts[:2] == ["api", "diff"]:
                    a, b = view.sources[int(q["a"])], view.sources[int(q["b"])]
                    return self._json(diff(a, b, q))
                if parts[0] == "api" and len(parts) >= 3:
                    i, src = self._source(parts)
                    what = "/".join(parts[2:])
                    if what == "info":
                        info = src.info()
                        if src.kind == "build":
                            info["grading"] = {"grader": view.config.grader, "sample": view.config.sample,
                                               "seed": view.config.seed}
                        return self._json(info)
                    if what == "items":
                        return self._json(src.items(q))
                    if what == "item":
                        return self._json(src.item(q["id"]))
                    if what == "image":
                        data = src.pages.image(q["doc"], int(q["page"]), int(q["w"]) if q.get("w") else None)
                        if data is None:
                            return self._json({"error": "page not in the store"}, 404)
                        return self._send(200, data, "image/jpeg", cache=True)
                    if what == "grade/next" and src.kind == "build":
                        return self._json(view.next_to_grade(i, q.get("grader") or view.config.grader))
                self._json({"error": f"no route {url.path}"}, 404)
            except (KeyError, ValueError, IndexError) as e:
                self._json({"error": f"{type(e).__name__}: {e}"}, 400)
            except Exception as e:   # a bug: answered, logged, the server goes on
                log.error("view %s: %s\n%s", self.path, e, traceback.format_exc())
                self._json({"error": f"{type(e).__name__}: {e}"}, 500)

        def do_POST(self):
            self.server.last_request = time.monotonic()
            parts = [p for p in urlparse(self.path).path.split("/") if p]
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if parts[0] == "api" and len(parts) == 3 and parts[2] == "grade":
                    i, src = self._source(parts)
                    return self._json(view.grade(i, body))
                self._json({"error": "no route"}, 404)
            except (KeyError, ValueError, IndexError) as e:
                self._json({"error": f"{type(e).__name__}: {e}"}, 400)
            except OSError as e:   # the grade was not saved: the page must say so
                log.error("grade not saved: %s", e)
                self._json({"error": f"not saved: {e}"}, 500)

        def _static(self, name: str) -> None:
            data = resources.files("mmprolong.view").joinpath("static", name).read_bytes()
            self._send(200, data, STATIC[name])

    return H


def make_server(view: View, port: int = 0, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A server bound to 127.0.0.1 (port 0: a free port); serve with `serve_forever()`."""
    httpd = ThreadingHTTPServer((host, port), _handler(view))
    httpd.daemon_threads = True
    httpd.last_request = time.monotonic()
    return httpd


def stop_when_idle(httpd: ThreadingHTTPServer, seconds: float) -> None:
    """Shut the server down once no request came for `seconds` (a view left open on a shared machine ends)."""
    while True:
        left = httpd.last_request + seconds - time.monotonic()
        if left <= 0:
            log.info("no request for %.0f s: stopping", seconds)
            httpd.shutdown()
            return
        time.sleep(min(left, 1.0))


def address(httpd: ThreadingHTTPServer) -> str:
    host, port = httpd.server_address[:2]
    return f"http://{host}:{port}/"
