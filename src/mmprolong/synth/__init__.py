"""Long-document VQA synthesis: segments, tasks, generators (rules, openai), verification, dedup, OCR baselines.

Public API (what the dataset builder calls)::

    from mmprolong.synth import (GeneratorConfig, make_generator, choose_segment, verify, Deduper,
                                 ocr_full_target, make_ocr_needle, GenerationError)

    seg = choose_segment(doc, rng, min_pages=8, max_pages=15)      # (first, last), 0-based inclusive
    gen = make_generator(GeneratorConfig(kind="rules"))            # or kind="openai", model=..., base_url=...
    qas = gen.generate(doc, seg, "extract-single", rng)            # list[QARecord]; [] when the pages give no fact;
                                                                   # may raise GenerationError(reason)
    for res in gen.generate_many([(doc, seg, task, seed), ...]):   # GenerationResult(index, doc_id, segment, task,
        ...                                                        #   records, error, cached, item); the openai gen.
                                                                   #   keeps cfg.concurrency requests in flight and
                                                                   #   yields in completion order (use res.index)
    gen.close()
    checked = verify(qa, doc, deduper=None)    # copy with checks_passed / checks_failed (stable reason strings)
    dedup = Deduper(); dedup.seen(qa)          # True for a near-duplicate question of the same document
    qa = make_ocr_needle(doc, rng, n_pages=(1, 3))   # task "ocr-needle": transcribe 1-3 named pages
    text = ocr_full_target(doc, pages)               # "### Page N\\n<text>" blocks, N 1-based

    from mmprolong.synth.stage import synthesize     # the stage alone: store -> OUT/qa/*.parquet (schema.QA, kept
    synthesize(store, out, cfg, per_doc=3)           #   and rejected), report.md/png; resumable (cli/synth.py)

Tasks: "extract-single" (one fact on one page), "extract-multi" (facts from >= 2 pages: a list of two values, or a
two-hop question bridged through a table row on another page; one page as fallback), "reasoning" (difference / sum /
ratio / comparison / count over >= 2 data points; the operands are written to the evidence description as a
`calc:` line, see `calc.py`, so `verify` recomputes the answer), plus the OCR baselines "ocr-full" and "ocr-needle".
Evidence sources: Text (sentences), Table (table rows), Figure (chart value labels), Layout (section headings).

Generators: `rules` (offline, deterministic given rng, from the text layer; [] when the pages hold no usable fact)
and `openai` (any OpenAI-compatible chat endpoint; page images as JPEG data URLs labelled "Page N"; prompts in
`prompts.py` with PROMPT_VERSION; client-side retries with backoff on 429/5xx/timeouts; malformed JSON asked again
`json_retries` times then rejected; replies cached in sqlite under `cache_dir` keyed by (doc_id, segment, task,
prompt_version, model); API key read from the environment variable named by `api_key_env`, never logged).
GenerationError reasons: malformed_json, missing_field, bad_answer_format, bad_evidence_pages, bad_calculation,
missing_image, missing_pages, timeout, rate_limited, http_<status>, connection_error, no_text_layer, unknown_task.

Verification failure reasons (`verify.FAILURES`): unknown_task, segment_out_of_document, no_evidence_pages,
evidence_outside_segment, format_mismatch, bad_evidence_source, no_scope_anchor, evidence_outside_scope,
answer_not_in_evidence, answer_not_at_labels, ambiguous_in_scope, heading_mismatch, list_numbering,
footnote_marker, page_number, running_header, boilerplate, operand_not_in_evidence, operand_not_at_labels,
recompute_mismatch, recount_mismatch, no_calculation, unchecked_by_rules, ocr_target_mismatch, answer_in_question,
duplicate; with a verifier model (`verify(qa, doc, verifier=make_verifier(VerifyConfig(...)))`, verifier.py):
verifier_disagrees, answerable_without_document, verifier_failed. An item whose evidence has no trustworthy text
fails unchecked_by_rules unless the verifier agrees.

Page numbers: questions and prompts use 1-based DOCUMENT page numbers ("On page 10", "On pages 20-25"), i.e. the
page's position in the PDF, which is the order in which the model sees the page images. The number printed on a page
is not used: it restarts per part, is roman or missing, and cannot be checked. Records store `evidence_pages` and
`segment` 0-based. Teacher models answer 1-based; the openai generator converts.

Scope anchors: every question names where to look (a page, a page range or a uniquely named section) so it stays
unambiguous once the segment is put back into the full document; `verify` rejects questions without one.
"""

from .base import GenerationError, GenerationItem, GenerationResult, Generator
from .config import GeneratorConfig, VerifyConfig, make_generator
from .dedup import Deduper
from .ocr import make_ocr_needle, ocr_full_target
from .record import QARecord
from .segments import choose_segment
from .tasks import OCR_TASKS, QA_TASKS
from .verify import FAILURES, verify

__all__ = ["Deduper", "FAILURES", "GenerationError", "GenerationItem", "GenerationResult", "Generator",
           "GeneratorConfig", "OCR_TASKS", "QARecord", "QA_TASKS", "VerifyConfig", "choose_segment", "make_generator",
           "make_ocr_needle", "ocr_full_target", "verify"]
