"""A stand-in verifier model for tests and bench/verify.py: a real HTTP server on 127.0.0.1 (POST
/v1/chat/completions) that "reads" the page images it is sent and answers from their text.

It cannot see pixels: each page image it may be shown is registered with its text (`register`, keyed by the JPEG's
sha256), and a small reader answers the question types of `make_corpus` from the text of the pages it was sent,
"Not answerable" when those pages do not hold the answer. With no image (closed-book) it answers from a fixed
"world knowledge" (capital cities) and declines everything else, as a model knowing no document would. Replies
end with "Answer: ...", like the eval's prompt asks. What this measures is the verification pipeline (which pages
are sent, how answers are scored, which reason rejects), not a real VLM's reading accuracy.

`make_corpus` builds documents (page text drawn into real JPEGs) and correct QA records, and `corrupt` the four
corruptions bench/verify.py measures: wrong value from the same page, wrong evidence page, reasoning without a
calculation (wrong answer), a question answerable from world knowledge.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import re
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image, ImageDraw

from mmprolong.corpus.store import Document
from mmprolong.synth.calc import calc_line
from mmprolong.synth.record import QARecord

CAPITALS = {"France": "Paris", "Japan": "Tokyo", "Kenya": "Nairobi", "Peru": "Lima", "Norway": "Oslo",
            "Egypt": "Cairo", "Canada": "Ottawa", "Chile": "Santiago", "Ghana": "Accra", "Spain": "Madrid",
            "Poland": "Warsaw", "Vietnam": "Hanoi"}
PLANTS = ["Northwind", "Southfield", "Eastport", "Westmoor", "Kestrel", "Larkspur", "Oakridge", "Redhill"]
YEARS = [2017, 2018, 2019, 2020]


def _jpeg(text: str) -> bytes:
    im = Image.new("RGB", (320, 120), "white")
    d = ImageDraw.Draw(im)
    for i, line in enumerate(re.findall(r".{1,50}(?:\s|$)", text)[:8]):
        d.text((4, 4 + 14 * i), line, fill="black")
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def _value(rng: random.Random) -> int:
    return rng.choice([rng.randint(1100, 1899), rng.randint(3100, 9800)])  # never a year: no leak into questions


def make_document(i: int, rng: random.Random) -> tuple[Document, dict]:
    """Page 1 a title; pages 2-9 one plant and year each (tonnes produced, workers employed); page 10 a capital."""
    plants = rng.sample(PLANTS, 2)
    country = rng.choice(sorted(CAPITALS))
    facts: dict = {"country": country, "pages": {}}
    texts = [f"Group report {i}\nOperations of the {plants[0]} and {plants[1]} plants"]
    for p in plants:
        for y in YEARS:
            v, w = _value(rng), rng.randint(210, 990)
            facts["pages"][len(texts)] = (p, y, v, w)
            texts.append(f"The {p} plant produced {v:,} tonnes of steel in {y}. The {p} plant employed {w} workers "
                         f"in {y}.")
    facts["capital_page"] = len(texts)
    texts.append(f"The capital of {country} is {CAPITALS[country]}, where the group has its sales office.")
    doc_id = f"doc-{i:04d}"
    pages = [{"doc_id": doc_id, "page": k, "width": 595.0, "height": 842.0, "text": t, "image": _jpeg(t),
              "image_width": 320, "image_height": 120} for k, t in enumerate(texts)]
    return Document(doc_id, f"{doc_id}.pdf", len(pages), f"Group report {i}", [], pages), facts


def _qa(doc: Document, task: str, q: str, a: str, fmt: str, pages: list[int], evidence: str = "") -> QARecord:
    return QARecord(doc_id=doc.doc_id, task=task, segment=(0, len(doc.pages) - 1), question=q, answer=a,
                    answer_format=fmt, evidence_pages=pages, evidence_sources=["Text"], evidence=evidence,
                    generator="test")


def clean_items(doc: Document, facts: dict, rng: random.Random) -> dict[str, QARecord]:
    """Correct items: extract-single (tonnes), reasoning (change between two years, with its calc), capital."""
    page = rng.choice(sorted(facts["pages"]))
    p, y, v, _ = facts["pages"][page]
    single = _qa(doc, "extract-single", f"On page {page + 1}, how many tonnes of steel did the {p} plant produce in "
                                        f"{y}?", str(v), "Integer", [page], f"Page {page + 1}: {v:,} tonnes.")
    a, b = sorted(rng.sample([k for k, f in facts["pages"].items() if f[0] == p], 2))
    (_, y1, v1, _), (_, y2, v2, _) = facts["pages"][a], facts["pages"][b]
    calc = calc_line("difference", [(f"{p} {y2}", v2), (f"{p} {y1}", v1)], pages=[b + 1, a + 1])
    reasoning = _qa(doc, "reasoning", f"On pages {a + 1} and {b + 1}, by how many tonnes did the {p} plant's output "
                                      f"change from {y1} to {y2}?", str(v2 - v1), "Integer", [a, b],
                    f"Pages {a + 1} and {b + 1} give the {p} plant's output. {calc}")
    cp = facts["capital_page"]
    capital = _qa(doc, "extract-single", f"On page {cp + 1}, what is the capital of {facts['country']}?",
                  CAPITALS[facts["country"]], "String", [cp], f"Page {cp + 1} names the capital.")
    return {"single": single, "reasoning": reasoning, "capital": capital}


CORRUPTIONS = ("wrong_value_same_page", "wrong_page", "no_calculation", "answerable_from_priors")


def corrupt(kind: str, items: dict[str, QARecord], facts: dict, rng: random.Random) -> QARecord:
    single, reasoning = items["single"], items["reasoning"]
    if kind == "wrong_value_same_page":   # the workers count printed next to the tonnes on the same page
        return replace(single, answer=str(facts["pages"][single.evidence_pages[0]][3]))
    if kind == "wrong_page":              # the question and evidence name another page of the document
        page = rng.choice([k for k in facts["pages"] if k != single.evidence_pages[0]])
        q = re.sub(r"^On page \d+", f"On page {page + 1}", single.question)
        return replace(single, question=q, evidence_pages=[page], evidence=f"Page {page + 1}.")
    if kind == "no_calculation":          # no calc line, no quoted operands, and the sum given for the change
        v = sum(facts["pages"][k][2] for k in reasoning.evidence_pages)
        return replace(reasoning, answer=str(v), evidence="The two pages give the plant's output.")
    if kind == "answerable_from_priors":
        return items["capital"]
    raise ValueError(kind)


def make_corpus(n_docs: int, seed: int = 0) -> list[tuple[Document, dict, dict[str, QARecord]]]:
    rng = random.Random(seed)
    out = []
    for i in range(n_docs):
        doc, facts = make_document(i, rng)
        out.append((doc, facts, clean_items(doc, facts, rng)))
    return out


# -- the reader ---------------------------------------------------------------------------------------------------
def _num(s: str) -> int:
    return int(s.replace(",", ""))


def answer_from(question: str, texts: list[str] | None) -> str:
    """The reader: the answer from `texts` (the pages shown), or from world knowledge when `texts` is None."""
    m = re.search(r"capital of (\w+)", question)
    if m:
        if texts is None:
            return CAPITALS.get(m.group(1), "Not answerable")
        for t in texts:
            f = re.search(rf"capital of {m.group(1)} is (\w+)", t)
            if f:
                return f.group(1)
        return "Not answerable"
    if texts is None:
        return "Not answerable"

    def produced(p: str, y: str) -> int | None:
        for t in texts:
            f = re.search(rf"The {p} plant produced ([\d,]+) tonnes of steel in {y}\b", t)
            if f:
                return _num(f.group(1))
        return None

    m = re.search(r"did the (\w+) plant produce in (\d{4})", question)
    if m:
        v = produced(m.group(1), m.group(2))
        return "Not answerable" if v is None else str(v)
    m = re.search(r"did the (\w+) plant's output change from (\d{4}) to (\d{4})", question)
    if m:
        v1, v2 = produced(m.group(1), m.group(2)), produced(m.group(1), m.group(3))
        return "Not answerable" if v1 is None or v2 is None else str(v2 - v1)
    return "Not answerable"


class VerifierServer:
    def __init__(self, misread: float = 0.0):
        self.pages: dict[str, str] = {}       # sha256 of a JPEG -> its page text
        self.misread = misread                # share of page-reading requests answered "Not answerable" (a weak model)
        self.requests: list[dict] = []
        self.fail_next = 0                    # answer that many requests with HTTP 500 first
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with server._lock:
                    server.requests.append(body)
                    fail = server.fail_next > 0
                    server.fail_next -= fail
                if fail or self.path != "/v1/chat/completions":
                    return self._send(500 if fail else 404, {"error": {"message": "scripted", "type": "server_error"}})
                reply = server.reply(body)
                self._send(200, {"id": "chatcmpl-v", "object": "chat.completion", "created": 0,
                                 "model": body.get("model", ""),
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": reply}}],
                                 "usage": {"prompt_tokens": 100 * len(server.images(body)) + 50,
                                           "completion_tokens": 8, "total_tokens": 0}})

            def _send(self, code, obj):
                data = json.dumps(obj).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def register(self, doc: Document) -> None:
        for p in doc.pages:
            self.pages[hashlib.sha256(p["image"]).hexdigest()] = p.get("text") or ""

    @staticmethod
    def images(body: dict) -> list[bytes]:
        return [base64.b64decode(part["image_url"]["url"].split(",", 1)[1])
                for m in body.get("messages", []) if isinstance(m.get("content"), list)
                for part in m["content"] if part.get("type") == "image_url"]

    def reply(self, body: dict) -> str:
        texts_parts = [part["text"] for m in body["messages"] if isinstance(m.get("content"), list)
                       for part in m["content"] if part.get("type") == "text"]
        question = texts_parts[-1].split("Question:", 1)[-1].strip()
        imgs = self.images(body)
        texts = [self.pages.get(hashlib.sha256(b).hexdigest(), "") for b in imgs] if imgs else None
        if texts is not None and self.misread:   # deterministic per request: the same request misreads each time
            h = int(hashlib.sha256(json.dumps(body["messages"]).encode()).hexdigest()[:8], 16) / 16 ** 8
            if h < self.misread:
                return "I cannot read the relevant value.\nAnswer: Not answerable"
        return f"The pages were read.\nAnswer: {answer_from(question, texts)}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- a reader that makes a real model's mistakes ------------------------------------------------------------------
_PAGES_IN_Q = re.compile(r"\bpages?\s+\d+(?:\s*(?:-|to|and|,)\s*\d+)*", re.I)


def _unpaged(question: str) -> str:
    return _PAGES_IN_Q.sub("page", question.strip())


class MistakenReader(VerifierServer):
    """A stand-in verifier for real documents: it knows each question's right answer (`teach`, from the clean
    item, and what a neighbouring row or page holds) and answers like a real VLM does, wrong some of the time:
    `misread` of page-reading requests get one digit changed (a number) or a letter dropped (a name), `neighbour`
    the neighbouring row's or page's value, `refuse` "Not answerable". Which request errs is fixed by a hash of it.
    A question it was not taught (the page numbers in it changed) is answered as the taught question with the same
    words: a model shown a page where the same value is printed reads it there. Closed-book it declines, except
    for questions taught as `known_without_document` (boilerplate a model has read elsewhere)."""

    def __init__(self, misread: float = 0.06, neighbour: float = 0.04, refuse: float = 0.04):
        super().__init__()
        self.rates = (misread, neighbour, refuse)
        self.truth: dict[str, tuple[str, str | None]] = {}
        self.loose: dict[str, tuple[str, str | None]] = {}
        self.closed: set[str] = set()
        self.errors: dict[str, int] = {"misread": 0, "neighbour": 0, "refuse": 0}

    def teach(self, question: str, answer: str, neighbour: str | None = None,
              known_without_document: bool = False) -> None:
        self.truth[question.strip()] = (answer, neighbour)
        self.loose.setdefault(_unpaged(question), (answer, neighbour))
        if known_without_document:
            self.closed.add(question.strip())

    def reply(self, body: dict) -> str:
        texts_parts = [part["text"] for m in body["messages"] if isinstance(m.get("content"), list)
                       for part in m["content"] if part.get("type") == "text"]
        question = texts_parts[-1].split("Question:", 1)[-1].strip()
        if not self.images(body):
            ans = self.truth.get(question, ("Not answerable", None))[0] if question in self.closed else "Not answerable"
            return f"Without the document I cannot tell.\nAnswer: {ans}"
        known = self.truth.get(question) or self.loose.get(_unpaged(question))
        if known is None:
            return "The pages do not say.\nAnswer: Not answerable"
        answer, neighbour = known
        h = int(hashlib.sha256(json.dumps(body["messages"]).encode()).hexdigest()[:8], 16) / 16 ** 8
        misread, near, refuse = self.rates
        with self._lock:
            if h < misread:
                self.errors["misread"] += 1
                answer = _misread(answer)
            elif h < misread + near and neighbour is not None:
                self.errors["neighbour"] += 1
                answer = neighbour
            elif misread + near <= h < misread + near + refuse:
                self.errors["refuse"] += 1
                answer = "Not answerable"
        return f"Reading the pages shown.\nAnswer: {answer}"


def _misread(answer: str) -> str:
    """One character misread: a digit taken for its look-alike (3/8, 1/7, 5/6, 0/9), or a letter lost."""
    swap = {"3": "8", "8": "3", "1": "7", "7": "1", "5": "6", "6": "5", "0": "9", "9": "0", "2": "7", "4": "9"}
    for i in range(len(answer) - 1, -1, -1):
        if answer[i] in swap:
            return answer[:i] + swap[answer[i]] + answer[i + 1:]
    return answer[:-1] if len(answer) > 3 else answer + "s"
