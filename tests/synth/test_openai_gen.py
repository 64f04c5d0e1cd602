import random

import pytest

from mmprolong.synth import GenerationError, GeneratorConfig, make_generator, verify
from mmprolong.synth.openai_gen import OpenAIGenerator

from .docs import report_doc

GOOD = {"question": "On page 2, how many tonnes of steel did the Northwind plant produce in 2019?",
        "answer": 4210, "answer_format": "Integer", "evidence": "Page 2 states 4,210 tonnes in 2019.",
        "evidence_pages": [2], "evidence_sources": ["Text"]}
REASONING = {"question": "On pages 2 and 3, how many more tonnes did Northwind produce than Southfield in 2019?",
             "answer": "2060", "answer_format": "Integer", "evidence": "Page 2: 4,210. Page 3: 2,150.",
             "evidence_pages": [2, 3], "evidence_sources": ["Text"],
             "calculation": {"operation": "difference", "operands": [{"label": "Northwind", "value": 4210},
                                                                     {"label": "Southfield", "value": "2,150"}]}}


@pytest.fixture
def env_key(monkeypatch):
    monkeypatch.setenv("TEST_TEACHER_KEY", "sk-test-secret-123")
    return "TEST_TEACHER_KEY"


def _gen(teacher, env_key, tmp_path, **kw):
    cfg = dict(kind="openai", model="teacher-vl", base_url=teacher.base_url, api_key_env=env_key,
               cache_dir=str(tmp_path / "cache"), timeout_s=5, max_retries=2, concurrency=4)
    cfg.update(kw)
    return make_generator(GeneratorConfig(**cfg))


def test_good_reply_becomes_verified_record(teacher, env_key, tmp_path):
    teacher.default = ("json", GOOD)
    doc = report_doc(images=True)
    gen = _gen(teacher, env_key, tmp_path, send_text=True)
    [qa] = gen.generate(doc, (0, 4), "extract-single", random.Random(0))
    assert qa.evidence_pages == [1] and qa.answer == "4210" and qa.generator == "openai:teacher-vl"
    assert verify(qa, doc).ok
    req = teacher.requests[0]
    assert req["model"] == "teacher-vl" and req["response_format"] == {"type": "json_object"}
    user = req["messages"][1]["content"]
    labels = [p["text"] for p in user if p["type"] == "text" and p["text"].startswith("Page ")]
    assert labels == ["Page 1", "Page 2", "Page 3", "Page 4", "Page 5"]
    images = [p for p in user if p["type"] == "image_url"]
    assert len(images) == 5 and images[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert any("Text layer of page 2" in p.get("text", "") for p in user)
    assert "Page 1 to Page 5" in user[-1]["text"] and user[-1]["text"].count("Example ") == 2
    assert teacher.auth[0] == "Bearer sk-test-secret-123"
    assert "sk-test" not in repr(gen)
    gen.close()


def test_cache_hit_on_rerun_makes_no_request(teacher, env_key, tmp_path):
    teacher.default = ("json", REASONING)
    doc = report_doc(images=True)
    gen = _gen(teacher, env_key, tmp_path)
    first = gen.generate(doc, (0, 4), "reasoning", random.Random(0))
    gen.close()
    assert len(teacher.requests) == 1
    gen2 = _gen(teacher, env_key, tmp_path)
    again = gen2.generate(doc, (0, 4), "reasoning", random.Random(5))
    assert len(teacher.requests) == 1 and again == first
    assert "calc: difference(Northwind=4210; Southfield=2150)" in again[0].evidence
    assert verify(again[0], doc).ok
    # another prompt version or model is another key
    gen3 = _gen(teacher, env_key, tmp_path, prompt_version="v-next")
    gen3.generate(doc, (0, 4), "reasoning", random.Random(5))
    assert len(teacher.requests) == 2


def test_malformed_json_retried_then_accepted(teacher, env_key, tmp_path):
    teacher.script = [("text", "Sure! Here is a question: what?"), ("text", "```json\n" + __import__("json").dumps(GOOD) + "\n```")]
    gen = _gen(teacher, env_key, tmp_path, json_retries=2)
    [qa] = gen.generate(report_doc(images=True), (0, 4), "extract-single", random.Random(0))
    assert qa.answer == "4210" and len(teacher.requests) == 2


def test_malformed_json_rejected_with_reason_and_cached(teacher, env_key, tmp_path):
    teacher.default = ("text", "{not json")
    doc = report_doc(images=True)
    gen = _gen(teacher, env_key, tmp_path, json_retries=1)
    with pytest.raises(GenerationError) as e:
        gen.generate(doc, (0, 4), "extract-single", random.Random(0))
    assert e.value.reason == "malformed_json" and len(teacher.requests) == 2
    [res] = list(_gen(teacher, env_key, tmp_path).generate_many([(doc, (0, 4), "extract-single", 1)]))
    assert res.error == "malformed_json" and res.cached and len(teacher.requests) == 2


def test_missing_field_is_a_rejection(teacher, env_key, tmp_path):
    teacher.default = ("json", {k: v for k, v in GOOD.items() if k != "answer"})
    gen = _gen(teacher, env_key, tmp_path, json_retries=0)
    with pytest.raises(GenerationError, match="missing_field"):
        gen.generate(report_doc(images=True), (0, 4), "extract-single", random.Random(0))


def test_server_error_then_success_is_retried_by_client(teacher, env_key, tmp_path):
    teacher.script = [("status", 500), ("status", 429)]
    teacher.default = ("json", GOOD)
    gen = _gen(teacher, env_key, tmp_path, max_retries=3)
    [qa] = gen.generate(report_doc(images=True), (0, 4), "extract-single", random.Random(0))
    assert qa.answer == "4210" and len(teacher.requests) == 3


def test_persistent_server_error_is_not_cached(teacher, env_key, tmp_path):
    teacher.default = ("status", 503)
    doc = report_doc(images=True)
    gen = _gen(teacher, env_key, tmp_path, max_retries=1)
    with pytest.raises(GenerationError, match="http_503"):
        gen.generate(doc, (0, 4), "extract-single", random.Random(0))
    assert len(teacher.requests) == 2
    teacher.default = ("json", GOOD)
    assert gen.generate(doc, (0, 4), "extract-single", random.Random(0))[0].answer == "4210"


def test_slow_reply_times_out(teacher, env_key, tmp_path):
    teacher.default = ("sleep", 1.5, ("json", GOOD))
    gen = _gen(teacher, env_key, tmp_path, timeout_s=0.3, max_retries=0)
    with pytest.raises(GenerationError, match="timeout"):
        gen.generate(report_doc(images=True), (0, 4), "extract-single", random.Random(0))


def test_generate_many_keeps_requests_in_flight(teacher, env_key, tmp_path):
    teacher.default = ("sleep", 1.0, ("json", GOOD))   # slow replies: the next requests go out while one waits
    doc = report_doc(images=True)
    gen = _gen(teacher, env_key, tmp_path, concurrency=4, cache_dir=None)
    items = [(doc, (0, 4), "extract-single", i) for i in range(8)]
    results = list(gen.generate_many(items))
    assert sorted(r.index for r in results) == list(range(8))
    assert all(r.records and not r.error for r in results)
    assert teacher.max_in_flight == 4   # counted at the server, not timed: any machine, any load


def test_missing_images_and_missing_key_are_clear_errors(teacher, env_key, tmp_path, monkeypatch):
    gen = _gen(teacher, env_key, tmp_path)
    with pytest.raises(GenerationError, match="missing_image"):
        gen.generate(report_doc(images=False), (0, 4), "extract-single", random.Random(0))
    assert not teacher.requests
    monkeypatch.delenv(env_key)
    with pytest.raises(ValueError, match=env_key):
        OpenAIGenerator(GeneratorConfig(kind="openai", model="m", api_key_env=env_key))


def test_reply_cache_survives_pickling_and_fork(tmp_path):
    import multiprocessing
    import pickle

    from mmprolong.synth.cache import ReplyCache, cache_key
    c = ReplyCache(tmp_path)
    k = cache_key("d", (0, 3), "reasoning", "v1", "m")
    c.put(k, ("d", (0, 3), "reasoning", "v1", "m"), "ok", "", "{}")
    c2 = pickle.loads(pickle.dumps(c))
    assert c2.get(k) == ("ok", "", "{}")
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        assert pool.apply(c.get, (k,)) == ("ok", "", "{}")
    assert len(c) == 1


def test_images_downscaled_to_max_pixels(teacher, env_key, tmp_path):
    import base64
    import io

    from PIL import Image

    from .docs import jpeg
    teacher.default = ("json", GOOD)
    doc = report_doc(images=True)
    for p in doc.pages:
        p["image"] = jpeg(400, 600)
    gen = _gen(teacher, env_key, tmp_path, image_max_pixels=60_000)
    gen.generate(doc, (0, 4), "extract-single", random.Random(0))
    url = next(p for p in teacher.requests[0]["messages"][1]["content"] if p["type"] == "image_url")["image_url"]["url"]
    im = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert im.width * im.height <= 60_000 and abs(im.width / im.height - 400 / 600) < 0.02


def test_closing_generate_many_early_cancels_the_rest(teacher, env_key, tmp_path):
    import time
    teacher.script = [("json", GOOD)]
    teacher.default = ("sleep", 1.0, ("json", GOOD))
    doc = report_doc(images=True)
    gen = _gen(teacher, env_key, tmp_path, concurrency=2, cache_dir=None)
    it = gen.generate_many((doc, (0, 4), "extract-single", i) for i in range(50))
    first = next(it)
    t = time.perf_counter()
    it.close()
    assert first.records and time.perf_counter() - t < 0.9
    assert len(teacher.requests) <= 4


def test_unknown_task(teacher, env_key, tmp_path):
    gen = _gen(teacher, env_key, tmp_path)
    with pytest.raises(ValueError, match="unknown task"):
        gen.generate(report_doc(images=True), (0, 4), "summary", random.Random(0))
    [res] = list(gen.generate_many([(report_doc(images=True), (0, 4), "summary", 0)]))
    assert res.error == "unknown_task" and not teacher.requests
