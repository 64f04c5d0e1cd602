"""`mmprolong view PATH [PATH ...]`: a local web page over a build, an eval set or eval runs (two runs: compared).

Serves on 127.0.0.1 only and prints its address; the page ships in the package (no network). A build's page lists
every kept instance and rejected candidate with filters, each item with its evidence pages from the page store,
and a grading mode (keys c / w / a / u, n for a note) whose grades go to BUILD/grades/<grader>.jsonl.
"""

from __future__ import annotations

import getpass
import os


def register(sub) -> None:
    p = sub.add_parser("view", help="browse a build, an eval set or eval runs in a local web page; grade by hand",
                       description=__doc__)
    p.add_argument("paths", nargs="+", metavar="PATH", help="build folder, eval set or eval run folder(s)")
    p.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: a free port; default %(default)s)")
    p.add_argument("--no-browser", action="store_true", help="do not open a web browser, only print the address")
    p.add_argument("--store", default=None,
                   help="page store of eval sets and runs (for their page images); a build uses the store its "
                        "manifest names, this one only when that is gone")
    p.add_argument("--grader", default=None, help="grader name for hand grades (default: $USER)")
    p.add_argument("--sample", type=int, default=100, help="items in the grading sample (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the grading sample (default %(default)s)")
    p.add_argument("--stop-after-idle", type=float, default=0, metavar="SECONDS",
                   help="stop serving after this many seconds without a request (default: never)")
    p.set_defaults(func=run)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or "grader"


def run(args) -> int:
    import sys
    import threading
    import time
    import webbrowser

    from ..view.grades import grader_name
    from ..view.server import View, ViewConfig, address, make_server, open_folder, stop_when_idle

    t0 = time.monotonic()
    sources = [open_folder(p, args.store) for p in args.paths]
    view = View(sources, ViewConfig(grader=grader_name(args.grader or _user()), sample=args.sample,
                                    seed=args.seed))
    httpd = make_server(view, args.port)
    url = address(httpd)
    print(f"mmprolong view: {url}  ({', '.join(s.title for s in sources)}; opened in {time.monotonic() - t0:.2f} s;"
          " Ctrl-C stops)", flush=True)
    if not args.no_browser:
        threading.Timer(0.3, webbrowser.open, (url,)).start()
    if args.stop_after_idle > 0:
        threading.Thread(target=stop_when_idle, args=(httpd, args.stop_after_idle), daemon=True).start()
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        httpd.server_close()
    return 0
