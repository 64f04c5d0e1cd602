"""The view tests' inputs: a demo build on the session's demo store, an eval set made from its kept QA and two
eval runs of it against a real local chat server (one with a failed request), and one headless chromium per module.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ..eval.chat_server import ChatServer

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="session")
def demo_build(demo_store, tmp_path_factory) -> Path:
    """`mmprolong build` of the demo recipe on the demo store."""
    from mmprolong.dataset.build import build

    out = tmp_path_factory.mktemp("view_build") / "build"
    build("demo", demo_store, out, workers=1, progress=False)
    return out


@pytest.fixture(scope="session")
def eval_runs(demo_build, demo_store, tmp_path_factory) -> dict[str, Path]:
    """SET (the build's kept QA at 8K and 16K), RUN_A (its first request fails: HTTP 500, no retries) and RUN_B
    (answers every gold), both scored."""
    from mmprolong.cli.main import main
    from mmprolong.eval.instance import read_instances

    root = tmp_path_factory.mktemp("view_eval")
    s, a, b = root / "set", root / "run_a", root / "run_b"
    assert main(["eval", "build", "--qa", str(demo_build / "qa"), "--dataset", "demo", "--store", str(demo_store),
                 "--out", str(s), "--lengths", "8K,16K", "--limit", "3", "--quiet"]) == 0
    gold = {i.question: i.answer for i in read_instances(s)}

    def right(body, text, sizes):
        return "Answer: " + next((g for q, g in gold.items() if q in text), "none")

    for run, srv, rc in ((a, ChatServer(fail_first=1), 1), (b, ChatServer(reply=right), 0)):   # 1: a failed request
        with srv:
            assert main(["eval", "run", str(s), "--store", str(demo_store), "--out", str(run), "--backend", "openai",
                         "--base-url", srv.url, "--served-model", "demo", "--retries", "0", "--quiet"]) == rc
        assert main(["eval", "score", str(run), "--quiet"]) == 0
    assert sum(bool(json.loads(x)["error"]) for x in (a / "predictions.jsonl").read_text().splitlines()) == 1
    return {"set": s, "a": a, "b": b}


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium driven by Selenium (skipped nowhere: `make install` installs chromium)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER), "apt-get install chromium chromium-driver"
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1000",
              "--disable-extensions", "--no-first-run", "--disable-background-networking"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.implicitly_wait(0)
    yield drv
    drv.quit()
