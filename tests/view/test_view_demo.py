"""The view on the demo build and two eval runs of it (one module: the session fixtures are built once per worker):
its pages in a real headless chromium against `mmprolong view`, the eval data behind them, the data report's samples."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from mmprolong.cli.main import main
from mmprolong.eval.instance import read_instances
from mmprolong.view.eval_data import diff
from mmprolong.view.grades import read_grades
from mmprolong.view.samples import THUMB_WIDTH
from mmprolong.view.server import View, ViewConfig, address, make_server, open_folder

SRC = str(Path(__file__).resolve().parents[2] / "src")
WAIT = 30


def wait(browser, cond):
    """Until cond holds; an element re-rendered under it (stale) is looked up again."""
    return WebDriverWait(browser, WAIT, poll_frequency=0.05, ignored_exceptions=(StaleElementReferenceException,)
                         ).until(lambda d: cond(d) or None)


def rows(browser):
    return browser.find_elements(By.CSS_SELECTOR, "#items tr.item-row")


def load(browser, url):
    browser.get(url)
    wait(browser, lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") is not None)


@pytest.fixture(scope="module")
def build_url(demo_build):
    """The real command, `mmprolong view BUILD --port 0 --no-browser`, its printed address."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    p = subprocess.Popen([sys.executable, "-m", "mmprolong.cli.main", "view", str(demo_build), "--port", "0",
                          "--no-browser", "--grader", "alice"], stdout=subprocess.PIPE, text=True, env=env)
    line = p.stdout.readline()
    assert "http://127.0.0.1:" in line, line
    yield line.split()[2]
    p.terminate()
    p.wait(10)


def test_build_page_filters_and_item_with_its_page_image(browser, build_url, demo_build):
    summary = json.loads((demo_build / "manifest.json").read_text())["summary"]
    load(browser, build_url)
    wait(browser, lambda d: len(rows(d)) == summary["qa_kept"] + summary["rejected"])
    Select(browser.find_element(By.CSS_SELECTOR, "select[name=task]")).select_by_value("reasoning")
    wait(browser, lambda d: rows(d) and all(r.find_elements(By.TAG_NAME, "td")[1].text == "reasoning" for r in rows(d)))
    assert len(rows(browser)) < summary["qa_kept"] + summary["rejected"]
    wait(browser, lambda d: Select(d.find_element(By.CSS_SELECTOR, "select[name=status]")))
    Select(browser.find_element(By.CSS_SELECTOR, "select[name=status]")).select_by_value("rejected")
    wait(browser, lambda d: rows(d) and all("rejected" in r.text for r in rows(d)))
    assert wait(browser, lambda d: "mix:" in rows(d)[0].text or "duplicate:" in rows(d)[0].text)  # reason as given
    load(browser, build_url + "#/s/0?status=kept&task=reasoning")
    wait(browser, lambda d: rows(d))
    rows(browser)[0].click()
    wait(browser, lambda d: d.find_elements(By.ID, "question"))
    detail = browser.find_element(By.ID, "detail").text
    assert "calc:" in detail and "scope anchor" in detail and "16K" in detail or "8K" in detail
    img = browser.find_element(By.CSS_SELECTOR, "img.page-img")
    wait(browser, lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 0)
    assert browser.find_elements(By.CSS_SELECTOR, ".page .text mark")     # evidence marked in the text layer


def test_grades_typed_on_the_keyboard_land_in_the_file_and_grades_reads_them(browser, build_url, demo_build,
                                                                              capsys):
    load(browser, build_url + "#/s/0/grade?grader=alice")
    status = lambda d: d.find_element(By.ID, "grade-status").text   # noqa: E731
    wait(browser, lambda d: d.find_elements(By.ID, "grade-status") and status(d).startswith("0 of"))
    first = browser.find_element(By.ID, "detail").get_attribute("data-qa")
    ActionChains(browser).send_keys("c").perform()
    wait(browser, lambda d: status(d).startswith("1 of"))
    second = browser.find_element(By.ID, "detail").get_attribute("data-qa")
    ActionChains(browser).send_keys("n").perform()
    ActionChains(browser).send_keys("the year is wrong\n").perform()
    ActionChains(browser).send_keys("w").perform()
    wait(browser, lambda d: status(d).startswith("2 of"))
    g = read_grades(demo_build, "alice")     # on disk as soon as the page says so
    assert g[("alice", first)]["grade"] == "correct" and g[("alice", second)]["grade"] == "wrong"
    assert g[("alice", second)]["note"] == "the year is wrong"
    # resume: a reload shows the next ungraded item; a second grader starts over in a file of its own
    load(browser, build_url + "#/s/0/grade?grader=alice")
    wait(browser, lambda d: d.find_elements(By.ID, "grade-status") and status(d).startswith("2 of"))
    assert browser.find_element(By.ID, "detail").get_attribute("data-qa") not in (first, second)
    load(browser, build_url + "#/s/0/grade?grader=bob")
    wait(browser, lambda d: d.find_elements(By.ID, "grade-status") and status(d).startswith("0 of"))
    ActionChains(browser).send_keys("a").perform()
    wait(browser, lambda d: status(d).startswith("1 of"))
    assert (demo_build / "grades" / "alice.jsonl").read_text().count("\n") == 2
    assert (demo_build / "grades" / "bob.jsonl").read_text().count("\n") == 1
    assert main(["grades", str(demo_build)]) == 0
    out = capsys.readouterr().out
    assert "3 grades by alice, bob" in out and "the year is wrong" in out and second in out
    assert "precision (95% Wilson)" in out and "0.333 [" in out     # all: 1 correct of 3


@pytest.fixture(scope="module")
def eval_url(eval_runs, demo_store):
    view = View([open_folder(eval_runs["a"], str(demo_store)), open_folder(eval_runs["b"], str(demo_store))],
                ViewConfig())
    httpd = make_server(view, 0)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield address(httpd)
    httpd.shutdown()
    httpd.server_close()


def test_eval_run_page_shows_a_failed_request_and_two_runs_differ(browser, eval_url):
    load(browser, eval_url + "#/s/0")
    wait(browser, lambda d: rows(d))
    n = len(rows(browser))
    Select(browser.find_element(By.CSS_SELECTOR, "select[name=score]")).select_by_value("failed")
    wait(browser, lambda d: len(rows(d)) == 1)
    assert "APIStatusError" in rows(browser)[0].text or "500" in rows(browser)[0].text
    rows(browser)[0].click()
    wait(browser, lambda d: d.find_elements(By.ID, "error"))
    assert browser.find_element(By.ID, "error").text
    img = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "img.page-img"))[0]
    wait(browser, lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img) > 0)
    load(browser, eval_url + "#/s/0?length=8192")
    wait(browser, lambda d: rows(d) and len(rows(d)) < n)
    browser.find_element(By.ID, "diff-link").click()
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#diff tr.item-row"))
    assert "failed" in browser.find_element(By.ID, "diff").text


def test_set_run_and_diff(eval_runs, demo_store):
    s = open_folder(eval_runs["set"], str(demo_store))
    insts = list(read_instances(eval_runs["set"]))
    assert s.kind == "eval-set" and s.items({})["total"] == len(insts)
    assert s.items({"length": "8192"})["total"] == sum(i.target_length == 8192 for i in insts)
    one = insts[-1]
    d = s.item(one.instance_id)
    assert d["question"] == one.question and "context" not in d
    assert sum(len(c["pages"]) for c in d["context_docs"]) == len(one.pages())
    assert [e["page"] for e in d["evidence_text"]] == sorted(one.evidence_pages)

    a, b = open_folder(eval_runs["a"], str(demo_store)), open_folder(eval_runs["b"], str(demo_store))
    assert a.kind == b.kind == "eval-run" and a.info()["failed"] == 1
    failed = a.items({"score": "failed"})["items"]
    assert len(failed) == 1 and "500" in failed[0]["error"] and failed[0]["prediction"] is None
    assert b.items({"score": "1"})["total"] == b.info()["n"]        # the server that answers every gold
    scored = {json.loads(x)["instance_id"]: json.loads(x) for x in (eval_runs["a"] / "scored.jsonl").open()}
    assert all(r["score"] == scored[r["instance_id"]]["score"] for r in a.rows)
    item = a.item(failed[0]["instance_id"])
    assert item["error"] and item["evidence_text"] and item["doc_id"]
    dd = diff(a, b, {})
    assert dd["both"] == len(insts) and dd["total"] == sum(r["score"] != 1 for r in a.rows)
    assert any(r["a"]["error"] for r in dd["items"])


def test_report_embeds_sample_items_with_thumbnails(demo_build):
    rep = demo_build / "report"
    text = (rep / "report.md").read_text()
    section = text.split("## Sample items", 1)[1]
    assert f"mmprolong view {demo_build}" in section and f"mmprolong grades {demo_build}" in section
    qa = pq.read_table(demo_build / "qa").to_pylist()
    thumbs = re.findall(r"!\[page (\d+)\]\((sample-\d+\.png)\) \| ([\w-]+) \| (.+?) \|", section)
    assert len(thumbs) == min(5, len(qa))
    assert len({t[2] for t in thumbs}) == min(5, len({r["task"] for r in qa}))   # one per task first
    for page, name, task, question in thumbs:    # a kept item's first evidence page
        assert any(r["task"] == task and r["question"].startswith(question.rstrip("…"))
                   and int(page) == min(r["evidence_pages"]) + 1 for r in qa)
        with Image.open(rep / name) as im:
            assert im.format == "PNG" and im.width <= THUMB_WIDTH
