"""`import-sft`: LLaVA JSON, ShareGPT messages (LLaMA-Factory / ms-swift), Parquet and `datasets` folders into
training shards with exact token counts (checked against transformers' own processor), bad rows with reasons, and a
resume after a real kill."""

import base64
import io
import json
import os
import signal
import subprocess
import sys
import time
import warnings

import pyarrow.parquet as pq
import pytest
from PIL import Image

from mmprolong.dataset.import_sft import ImportSettings, find_inputs, import_sft
from mmprolong.tokens import hf_reference

VISION = "<|vision_start|><|image_pad|><|vision_end|>"
SMALL_MP = 200_704


def _img(path, w, h, fmt="JPEG", seed=0):
    im = Image.new("RGB", (w, h), ((seed * 37) % 256, (seed * 91) % 256, 120))
    for k in range(0, w, 23):
        im.paste(((seed + k) % 256, 40, 200), (k, 0, k + 5, h))
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, format=fmt)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("sft")
    _img(root / "imgs/a.jpg", 640, 480)
    _img(root / "imgs/b.png", 300, 500, "PNG", seed=1)
    _img(root / "imgs/big.jpg", 1600, 1200, seed=2)    # over SMALL_MP: resized to the grid
    llava = [
        {"id": "l0", "image": "imgs/a.jpg", "conversations": [
            {"from": "human", "value": "<image>\nWhat is in the picture?"}, {"from": "gpt", "value": "Stripes."},
            {"from": "human", "value": "Which colour?"}, {"from": "gpt", "value": "Blue on green."}]},
        {"id": "l1", "conversations": [{"from": "human", "value": "Say hi."}, {"from": "gpt", "value": "Hi!"}]},
        {"id": "l2", "image": "imgs/big.jpg", "conversations": [
            {"from": "human", "value": "Describe <image> briefly."}, {"from": "gpt", "value": "A striped image."}]},
        {"id": "bad-missing", "image": "imgs/nope.jpg", "conversations": [
            {"from": "human", "value": "<image>x"}, {"from": "gpt", "value": "y"}]},
        {"id": "bad-count", "image": ["imgs/a.jpg", "imgs/a.jpg"], "conversations": [
            {"from": "human", "value": "<image> one tag"}, {"from": "gpt", "value": "y"}]},
        {"id": "bad-role", "conversations": [{"from": "function_call", "value": "{}"}, {"from": "gpt", "value": "y"}]},
        {"id": "bad-last", "conversations": [{"from": "human", "value": "q"}]},
        {"id": "bad-url", "image": "https://example.com/x.jpg", "conversations": [
            {"from": "human", "value": "<image>"}, {"from": "gpt", "value": "y"}]},
    ]
    (root / "llava.json").write_text(json.dumps(llava))
    lf = [{"messages": [{"role": "user", "content": "<image><image>Compare the two."},
                        {"role": "assistant", "content": "The first is wider."}],
           "images": ["imgs/a.jpg", "imgs/b.png"], "system": "You compare images."},
          {"messages": [{"role": "user", "content": "Is it empty?"}, {"role": "assistant", "content": ""}]}]
    _img(root / "lf/imgs/a.jpg", 640, 480)   # inside the input's folder: its image root
    _img(root / "lf/imgs/b.png", 300, 500, "PNG", seed=1)
    (root / "lf/sharegpt.json").write_text(json.dumps(lf))
    (root / "lf/dataset_info.json").write_text(json.dumps({"x": {"file_name": "sharegpt.json"}}))  # not data
    uri = "data:image/png;base64," + base64.b64encode((root / "imgs/b.png").read_bytes()).decode()
    swift = [{"messages": [{"role": "system", "content": "Be brief."},
                           {"role": "user", "content": "<image>What shape?"},
                           {"role": "assistant", "content": "Tall."}], "images": [uri]},
             {"query": "2+2?", "response": "4", "history": [["Hi", "Hello."]]},
             {"messages": [{"role": "user", "content": "<video>What happens?"},
                           {"role": "assistant", "content": "A cat jumps."}], "videos": ["v.mp4"]}]
    (root / "swift.jsonl").write_text("\n".join(json.dumps(r) for r in swift) + "\n{not json\n")
    return root


def _rows(out, name="shards"):
    return [r for f in sorted((out / name).glob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]


def test_llava_sharegpt_and_swift_rows_import_with_reasons_for_bad_ones(data, tmp_path):
    out = tmp_path / "out"
    s = import_sft([data / "llava.json", data / "lf", data / "swift.jsonl"], out, ImportSettings(shard_size=3),
                   progress=False)
    rows, rej = _rows(out), _rows(out, "rejected")
    assert s.rows == 14 and s.samples == len(rows) == 6 and s.rejected == len(rej) == 8
    kinds = {(r["id"] or r["row"]): r["reason"].split(":")[0] for r in rej}
    assert kinds == {"bad-missing": "missing-image", "bad-count": "image-count", "bad-role": "unsupported-role",
                     "bad-last": "bad-turns", "bad-url": "remote-image", 1: "empty-answer", 2: "unsupported-media",
                     3: "bad-json"}
    by_id = {r["qa_id"]: r for r in rows}
    l0 = json.loads(by_id["l0"]["messages"])
    assert [m["role"] for m in l0] == ["user", "assistant", "user", "assistant"]
    assert l0[0]["content"] == [{"type": "image", "width": 640, "height": 480},
                                {"type": "text", "text": "\nWhat is in the picture?"}]
    assert by_id["l0"]["images"][0] == (data / "imgs/a.jpg").read_bytes()  # a JPEG within the bound: as it was
    assert by_id["l0"]["target"] == "Blue on green." and by_id["l1"]["images"] == []
    assert all(r["task"] == "sft" and r["max_pixels"] == 12845056 and r["n_tokens"] > 0 for r in rows)
    man = json.loads((out / "manifest.json").read_text())
    assert man["summary"]["samples"] == 6 and man["summary"]["rejected_by_reason"]["image-count"] == 1
    assert len(list((out / "shards").glob("*.parquet"))) == 5  # 14 rows, 3 per part
    # a second run over a finished import changes nothing; other settings need another folder
    again = import_sft([data / "llava.json", data / "lf", data / "swift.jsonl"], out, ImportSettings(shard_size=3),
                       progress=False)
    assert again.samples == 6 and _rows(out) == rows
    with pytest.raises(ValueError, match="other inputs or settings"):
        import_sft([data / "llava.json"], out, progress=False)


def test_a_process_pool_gives_the_same_output(data, tmp_path):
    inputs = [data / "llava.json", data / "lf", data / "swift.jsonl"]
    one, two = tmp_path / "one", tmp_path / "two"
    import_sft(inputs, one, ImportSettings(shard_size=4), progress=False)
    import_sft(inputs, two, ImportSettings(shard_size=4), progress=False, workers=2)
    for name in ("shards", "rejected"):
        assert _rows(two, name) == _rows(one, name)


def _hf_count(proc, row_turns, images, max_pixels):
    """What LLaMA-Factory / ms-swift train on: <image> replaced by the vision tokens, the model's chat template,
    transformers' Qwen2.5-VL processor over the original image files."""
    msgs = [{"role": r, "content": c.replace("<image>", VISION)} for r, c in row_turns]
    text = proc.apply_chat_template(msgs, tokenize=False)
    kw = {"size": {"shortest_edge": proc.image_processor.size["shortest_edge"], "longest_edge": max_pixels}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = proc(text=[text], images=images or None, return_tensors="np", **kw)
    return len(out["input_ids"][0])


@pytest.mark.parametrize("max_pixels", [None, SMALL_MP])
def test_n_tokens_equal_transformers_processor_count(data, tmp_path, max_pixels):
    out = tmp_path / "out"
    import_sft([data / "llava.json", data / "lf"], out, ImportSettings(max_pixels=max_pixels), progress=False)
    mp = max_pixels or 12845056
    proc = hf_reference.build_processor("qwen2.5-vl", max_pixels=mp)
    rows = {r["qa_id"] or json.loads(r["messages"])[0]["content"][0]["text"][:20]: r for r in _rows(out)}
    pil = lambda *names: [Image.open(data / "imgs" / n).convert("RGB") for n in names]  # noqa: E731
    llava = {r["id"]: r for r in json.loads((data / "llava.json").read_text())}
    role = {"human": "user", "gpt": "assistant"}
    expected = {
        "l0": _hf_count(proc, [(role[t["from"]], t["value"]) for t in llava["l0"]["conversations"]], pil("a.jpg"), mp),
        "l1": _hf_count(proc, [(role[t["from"]], t["value"]) for t in llava["l1"]["conversations"]], [], mp),
        "l2": _hf_count(proc, [(role[t["from"]], t["value"]) for t in llava["l2"]["conversations"]], pil("big.jpg"),
                        mp),
        "You compare images.": _hf_count(proc, [("system", "You compare images."),
                                                ("user", "<image><image>Compare the two."),
                                                ("assistant", "The first is wider.")], pil("a.jpg", "b.png"), mp)}
    assert {k: rows[k]["n_tokens"] for k in expected} == expected
    big = rows["l2"]
    w, h = big["image_sizes"][0]
    if max_pixels:  # stored at the counted grid: the processor gets the same grid from the smaller file
        assert w * h <= SMALL_MP and w % 28 == 0 and h % 28 == 0
        assert Image.open(io.BytesIO(big["images"][0])).size == (w, h)
        assert json.loads(big["messages"])[0]["content"][1]["max_pixels"] == SMALL_MP
    else:
        assert (w, h) == (1600, 1200)


def test_imported_rows_encode_for_training(data, tmp_path):
    """The trainer's encoder (transformers' image processor on the stored bytes) agrees with the stored counts."""
    from mmprolong import tokens
    from mmprolong.train.encode import encode_row, image_processor_for

    out = tmp_path / "out"
    import_sft([data / "llava.json", data / "lf", data / "swift.jsonl"], out, ImportSettings(max_pixels=SMALL_MP),
               progress=False)
    counter = tokens.load("qwen2.5-vl")
    proc = image_processor_for(counter)
    for r in _rows(out):
        enc = encode_row(counter, proc, r)  # raises when ids, grids or images disagree with the row
        assert len(enc) == r["n_tokens"] and enc.n_targets > 0


def test_parquet_and_datasets_folders_with_image_columns(data, tmp_path):
    import datasets

    a = (data / "imgs/a.jpg").read_bytes()
    turn = {"from": datasets.Value("string"), "value": datasets.Value("string")}
    feats = datasets.Features({"id": datasets.Value("string"), "image": datasets.Image(), "conversations": [turn]})
    ds = datasets.Dataset.from_dict({
        "id": ["p0", "p1"], "image": [{"bytes": a, "path": None}, {"bytes": b"not an image", "path": None}],
        "conversations": [[{"from": "human", "value": "<image>Stripes?"}, {"from": "gpt", "value": "Yes."}]] * 2},
        features=feats)
    ds.to_parquet(str(tmp_path / "in/part-0.parquet"))
    multi = datasets.Dataset.from_dict({
        "messages": [[{"role": "user", "content": "<image><image>Two?"}, {"role": "assistant", "content": "Two."}]],
        "images": [[{"bytes": a, "path": None}, {"bytes": None, "path": str(data / "imgs/b.png")}]]},
        features=datasets.Features({"messages": [{"role": datasets.Value("string"),
                                                  "content": datasets.Value("string")}],
                                    "images": datasets.Sequence(datasets.Image())}))
    multi.save_to_disk(str(tmp_path / "in/saved"))
    srcs = find_inputs([tmp_path / "in"])
    assert [s.kind for s in srcs] == ["parquet", "datasets"]
    out = tmp_path / "out"
    s = import_sft([tmp_path / "in"], out, progress=False)
    rows, rej = _rows(out), _rows(out, "rejected")
    assert s.samples == 2 and [r["qa_id"] for r in rows] == ["p0", ""]
    assert rej[0]["id"] == "p1" and rej[0]["reason"].startswith("bad-image")
    assert rows[1]["image_sizes"] == [[640, 480], [300, 500]] and len(rows[1]["images"]) == 2


def _import_cmd(inp, out):
    return [sys.executable, "-m", "mmprolong.cli.main", "import-sft", str(inp), "--out", str(out),
            "--shard-size", "7", "--quiet"]


def test_killed_import_resumes_without_losing_or_duplicating_rows(tmp_path):
    """A real process killed mid-run (SIGKILL), run again: the same rows as an uninterrupted import."""
    n = 240
    for k in range(6):
        _img(tmp_path / f"imgs/{k}.png", 900 + 40 * k, 700, "PNG", seed=k)  # PNG: re-encoded each time (slow-ish)
    rows = [{"id": f"r{i}", "image": f"imgs/{i % 6}.png" if i % 11 else "imgs/missing.png",
             "conversations": [{"from": "human", "value": f"<image>Row {i}?"}, {"from": "gpt", "value": f"A{i}"}]}
            for i in range(n)]
    inp = tmp_path / "rows.json"
    inp.write_text(json.dumps(rows))
    env = {**os.environ}
    whole = tmp_path / "whole"
    subprocess.run(_import_cmd(inp, whole), check=True, env=env, timeout=600)
    cut = tmp_path / "cut"
    p = subprocess.Popen(_import_cmd(inp, cut), env=env)
    deadline = time.time() + 300
    while not (cut / "_progress/part-00003.json").exists() and p.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    records = sorted((cut / "_progress").glob("part-*.json"))
    assert records and not json.loads(records[-1].read_text())["finished"], "the import finished before the kill"
    subprocess.run(_import_cmd(inp, cut), check=True, env=env, timeout=600)
    a, b = _rows(whole), _rows(cut)
    assert [r["sample_id"] for r in b] == [r["sample_id"] for r in a] and len(a) == n - len(range(0, n, 11))
    assert [r["row"] for r in _rows(cut, "rejected")] == list(range(0, n, 11))
    assert json.loads((cut / "manifest.json").read_text())["summary"]["resumed"] is True


def test_cli_reports_errors(tmp_path, capsys):
    from mmprolong.cli.main import main

    assert main(["import-sft", str(tmp_path / "none.json"), "--out", str(tmp_path / "o")]) == 2
    assert "no such input" in capsys.readouterr().err


def test_bad_bytes_escapes_and_runaway_rows_are_rejected_with_reasons_the_rest_imports(tmp_path):
    """A line that is not UTF-8, a lone surrogate, image paths leaving the image root and a 40K-token row each reject
    their own row (file and row named) under the default settings; the other rows import, and a rerun agrees."""
    _img(tmp_path / "d/imgs/a.jpg", 64, 48)
    secret = tmp_path / "secret.jpg"
    _img(secret, 64, 48)

    def row(i, q="q?", image=None):
        r = {"id": f"r{i}", "messages": [{"role": "user", "content": ("<image>" if image else "") + q},
                                          {"role": "assistant", "content": "a"}]}
        return json.dumps({**r, "images": [image]} if image else r).encode()

    lines = [row(0), b'{"id": "r1", "messages": [{"role": "user", "content": "caf\xe9\xff"}]}',
             row(2, "lone \ud800 surrogate"), row(3, image="../../../../etc/passwd"), row(4, image=str(secret)),
             row(5, image="../secret.jpg"), row(6, "word " * 40_000), row(7, image="imgs/a.jpg"),
             row(8, image=str(tmp_path / "d/imgs/a.jpg"))]
    inp = tmp_path / "d/rows.jsonl"
    inp.write_bytes(b"\n".join(lines) + b"\n")
    listed = [{"id": "j0", "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]},
              {"id": "j1", "messages": [{"role": "user", "content": "BAD"}, {"role": "assistant", "content": "y"}]}]
    inp2 = tmp_path / "d/list.json"
    inp2.write_bytes(json.dumps(listed).encode().replace(b"BAD", b"\xff\xfe"))
    out = tmp_path / "out"
    s = import_sft([inp2, inp], out, progress=False)
    rej = {(r["source"], r["row"]): r["reason"] for r in _rows(out, "rejected")}
    assert {k: v.split(":")[0] for k, v in rej.items()} == {
        (str(inp2), 1): "bad-encoding", (str(inp), 1): "bad-encoding", (str(inp), 2): "bad-encoding",
        (str(inp), 3): "image-outside-root", (str(inp), 4): "image-outside-root", (str(inp), 5): "image-outside-root",
        (str(inp), 6): "too-long"}
    assert "line 2 of rows.jsonl is not UTF-8 (byte 0xe9" in rej[(str(inp), 1)]
    assert "\\ud800" in rej[(str(inp), 2)] and "\\udcff" in rej[(str(inp2), 1)]
    assert "etc/passwd" in rej[(str(inp), 3)] and "> max_length 32768" in rej[(str(inp), 6)]
    assert [r["qa_id"] for r in _rows(out)] == ["j0", "r0", "r7", "r8"] and s.samples == 4 and s.rejected == 7
    again = import_sft([inp2, inp], out, progress=False)
    assert (again.samples, again.rejected, again.rejected_by_reason) == (4, 7, s.rejected_by_reason)
    # the limit is the CLI's --max-tokens (0: none); --image-root widens where images may come from
    from mmprolong.cli.main import main

    wide = tmp_path / "wide"
    assert main(["import-sft", str(inp), "--out", str(wide), "--max-tokens", "0", "--image-root", str(tmp_path),
                 "--quiet"]) == 0
    assert {r["row"]: r["reason"].split(":")[0] for r in _rows(wide, "rejected")} == {
        1: "bad-encoding", 2: "bad-encoding", 3: "image-outside-root", 5: "image-outside-root", 7: "missing-image"}
