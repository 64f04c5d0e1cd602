"""`mmprolong view`: a local web page over a build, an eval set or eval runs, and hand grading of a build.

The server (`server.py`, stdlib http.server on 127.0.0.1) answers a paginated JSON API from compact indexes
(`build_data.py`, `eval_data.py`: only the filter columns are held; an item's text is read from its part file when
it is shown), page images straight from the page store (`pages.py`), and appends hand grades durably to
OUT/grades/<grader>.jsonl (`grades.py`). The page itself is static HTML/JS/CSS in `static/`: no build step, no
network.
"""
