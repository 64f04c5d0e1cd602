"""The build index behind the view: server-side filters and paging over a synthetic build on the demo store,
items read from their own rows, page images straight from the store, evidence marked in the text layer."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from mmprolong.cli.main import main
from mmprolong.corpus.store import PageStore
from mmprolong.view.build_data import BuildData
from mmprolong.view.pages import calc_line, mark, needles_for
from mmprolong.view.synthetic import write_synthetic_build

N_KEPT, N_REJ = 700, 300


@pytest.fixture(scope="module")
def syn(demo_store, tmp_path_factory):
    out = write_synthetic_build(tmp_path_factory.mktemp("syn") / "build", demo_store, N_KEPT, N_REJ, part_rows=256)
    return BuildData(out)


def test_index_counts_and_filters_match_the_parquet_rows(syn):
    qa = pq.read_table(syn.folder / "qa").to_pylist()
    rej = pq.read_table(syn.folder / "rejected").to_pylist()
    assert (syn.n_kept, syn.index.num_rows) == (N_KEPT, N_KEPT + N_REJ)
    res = syn.items({"task": "reasoning", "status": "kept", "limit": 500})
    assert res["total"] == sum(r["task"] == "reasoning" for r in qa)
    assert {i["qa_id"] for i in res["items"]} <= {r["qa_id"] for r in qa if r["task"] == "reasoning"}
    check = syn.items({"check": "no_scope_anchor", "limit": 500})
    assert check["total"] == sum("no_scope_anchor" in r["checks_failed"] for r in rej) > 0
    assert all("no_scope_anchor" in i["checks_failed"] and i["reason"].startswith("verify:") for i in check["items"])
    mix = syn.items({"reason": "mix"})
    assert mix["total"] == sum(r["reason"].startswith("mix:") for r in rej)
    doc = qa[5]["doc_id"]
    assert syn.items({"doc": doc, "status": "kept"})["total"] == sum(r["doc_id"] == doc for r in qa)
    bucket = syn.items({"bucket": "8K-16K"})
    shards = pq.read_table(syn.folder / "shards", columns=["bucket"]).column("bucket").to_pylist()
    assert bucket["total"] == shards.count("8K-16K")
    assert all(8192 <= i["n_tokens"] < 16384 for i in bucket["items"])


def test_pages_through_every_item_once_in_file_order(syn):
    seen = []
    for off in range(0, N_KEPT + N_REJ, 137):
        page = syn.items({"offset": off, "limit": 137})
        assert page["total"] == N_KEPT + N_REJ
        seen += [i["qa_id"] for i in page["items"]]
    qa = pq.read_table(syn.folder / "qa", columns=["qa_id", "question"]).to_pylist()
    assert seen[:N_KEPT] == [r["qa_id"] for r in qa] and len(set(seen)) == N_KEPT + N_REJ
    assert syn.items({"offset": 300, "limit": 1})["items"][0]["question"] == qa[300]["question"]


def test_an_item_shows_its_record_instance_and_marked_evidence(syn, demo_store):
    it = syn.items({"offset": 300, "limit": 1})["items"][0]
    d = syn.item(it["id"])
    assert d["qa_id"] == it["qa_id"] and d["instance"]["sample_id"] == "s" + it["qa_id"]
    assert d["instance"]["n_tokens"] == it["n_tokens"] and len(d["instance"]["pages"]) == it["n_pages"]
    assert d["scope"].startswith("On page") and [e["page"] for e in d["evidence_text"]] == d["evidence_pages"]
    store = PageStore(demo_store)
    page = d["evidence_pages"][0]
    t = store.read_pages([d["doc_id"]], ["page", "image", "text"]).to_pylist()
    row = next(r for r in t if r["page"] == page)
    assert syn.pages.image(d["doc_id"], page) == row["image"]          # the store's own bytes, not a copy
    assert "".join(s["t"] for s in d["evidence_text"][0]["segments"]) == row["text"]
    thumb = syn.pages.image(d["doc_id"], page, width=120)
    assert thumb[:2] == b"\xff\xd8" and len(thumb) < len(row["image"])
    rej = syn.item(syn.items({"status": "rejected", "limit": 1})["items"][0]["id"])
    assert rej["status"] == "rejected" and rej["reason"] and "instance" not in rej


def test_marking_evidence_quotes_answers_and_calc_operands():
    text = "The Northwind plant produced 4,392 tonnes\nof steel in 2016. Other: 12."
    ev = 'Page 3: "Northwind plant produced 4,392 tonnes of steel". calc: sum(A 2016=4392; B=12)'
    line, values = calc_line(ev)
    assert line == "calc: sum(A 2016=4392; B=12)" and values == ["4392", "12"]
    segs = mark(text, needles_for(2, ev, "4392", values))
    assert "".join(s["t"] for s in segs) == text
    assert [s["t"] for s in segs if s["m"]] == ["Northwind plant produced 4,392 tonnes\nof steel", "12"]
    assert not any(s["m"] for s in mark(text, needles_for(5, ev, "", [])))   # another page: no quote of it


def test_view_refuses_a_folder_it_cannot_show(demo_store, capsys):
    assert main(["view", str(demo_store), "--no-browser", "--port", "0"]) == 2
    assert "holds page-store" in capsys.readouterr().err
