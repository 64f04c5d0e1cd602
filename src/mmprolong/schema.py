"""The on-disk contracts between stages, as pyarrow schemas. Every stage reads one and writes the next.

Pages are 0-based everywhere on disk. Sizes: `width`/`height` are PDF points; `image_width`/`image_height` pixels.
"""

from __future__ import annotations

import pyarrow as pa

SIZE_RUN = pa.struct([("width", pa.int32()), ("height", pa.int32()), ("pages", pa.int32())])   # pixels; run length
SECTION = pa.struct([("first_page", pa.int32()), ("level", pa.int32()), ("heading", pa.string())])

# STORE/docs: one row per input file, ok or not (failure is data).
DOCS = pa.schema([
    ("doc_id", pa.string()),          # sha256 of the PDF bytes ("" when the file could not be read)
    ("source", pa.string()),          # path as given
    ("n_pages", pa.int32()),
    ("title", pa.string()),
    ("sections", pa.list_(SECTION)),  # section starts, sorted by first_page
    ("sections_from", pa.string()),   # "outline" | "heuristic" | "none"
    ("status", pa.string()),          # "ok" | failure kind: corrupt, encrypted, empty, not_pdf, timeout, too_few_pages,
                                      # too_many_pages, excluded, duplicate, error
    ("error", pa.string()),
    ("file_bytes", pa.int64()),
    ("dpi", pa.int32()),
    ("seconds", pa.float32()),
    # where the document's pages are (corpus/writer.py commit rule); null in rows written before them and in rows
    # without pages: then PageStore.locate finds them by scanning the pages' doc_id columns
    ("pages_file", pa.string()),                  # name of the file inside STORE/pages
    ("page_row_groups", pa.list_(pa.int32())),    # the row groups of that file holding the document's pages
    # what planning and token counting need of the pages, so they never read the pages dataset: the pages' pixel
    # sizes as runs of equal size in page order (most documents: one run); null in rows written before it
    ("page_sizes", pa.list_(SIZE_RUN)),
])

# STORE/pages: one row per page of an ok document, pages of a document contiguous and in order.
PAGES = pa.schema([
    ("doc_id", pa.string()),
    ("page", pa.int32()),
    ("width", pa.float32()),          # points
    ("height", pa.float32()),
    ("image", pa.binary()),           # JPEG at the store's DPI
    ("image_width", pa.int32()),      # pixels
    ("image_height", pa.int32()),
    ("text", pa.string()),            # the page's text: its text layer, or OCR of its image (text_source)
    ("text_source", pa.string()),     # "layer" | "ocr" | "none" (untrusted: no text; corpus/ocr.py); null: layer
])

EVIDENCE_SOURCES = ("Text", "Layout", "Figure", "Table")
ANSWER_FORMATS = ("String", "Integer", "Float", "List", "None")
TASKS = ("extract-single", "extract-multi", "reasoning", "ocr-full", "ocr-needle")

# QA records (synthesis output), kept and rejected alike.
QA = pa.schema([
    ("qa_id", pa.string()),
    ("doc_id", pa.string()),
    ("task", pa.string()),
    ("segment_first", pa.int32()),
    ("segment_last", pa.int32()),
    ("question", pa.string()),
    ("answer", pa.string()),          # JSON-free text; lists as a JSON array string
    ("answer_format", pa.string()),
    ("evidence_pages", pa.list_(pa.int32())),   # 0-based
    ("evidence_sources", pa.list_(pa.string())),
    ("evidence", pa.string()),        # evidence description
    ("generator", pa.string()),
    ("checks_passed", pa.list_(pa.string())),
    ("checks_failed", pa.list_(pa.string())),
])

# Training samples (shards).
SAMPLES = pa.schema([
    ("sample_id", pa.string()),
    ("doc_id", pa.string()),
    ("qa_id", pa.string()),
    ("task", pa.string()),
    ("pages", pa.list_(pa.int32())),          # document pages in the instance, in order (0-based)
    ("messages", pa.string()),                # JSON chat messages; image parts reference pages by index
    ("images", pa.list_(pa.binary())),        # JPEG bytes, one per image part, in order (empty when referenced)
    ("image_sizes", pa.list_(pa.list_(pa.int32()))),  # [width, height] pixels per image part
    ("max_pixels", pa.int64()),               # per-sample pixel budget used for counting
    ("target", pa.string()),                  # the loss target (assistant answer / transcription)
    ("n_tokens", pa.int32()),                 # exact, for the target model
    ("n_image_tokens", pa.int32()),
    ("depth", pa.float32()),                  # evidence depth in [0, 1] within the instance
    ("bucket", pa.string()),
    ("recipe_hash", pa.string()),
])
