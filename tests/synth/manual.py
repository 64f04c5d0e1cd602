"""A small software manual as a real PDF (reportlab), read back through pdfium like ingest does, for the
verification tests: a running header and page numbers, a licence line, prose with numbers, a table, a numbered
list, a footnote, figure captions and a section outline."""

from __future__ import annotations

from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from mmprolong.corpus.store import Document

from .docs import page_texts

TITLE = "Widget Toolkit Manual"
PAGES = [
    ["Widget Toolkit Manual",
     "Permission is granted to copy, distribute and/or modify this document under the terms of the",
     "GNU Free Documentation License, Version 1.3 or any later version."],
    ["1 Introduction",
     "The build farm compiled 1,250 packages in 2021. The build farm employed 37 volunteers in 2021.",
     "The toolkit is written in C and has bindings for three scripting languages."],
    ["2 Performance",
     "Table 1: Build times (seconds)",
     "Target 2019 2020 2021",
     "Linux 120 110 95",
     "Windows 340 310 300",
     "Hurd 900 870 860",
     "The mirror served 1,250 requests per hour during the release week."],
    ["2.1 Memory",
     "The cache holds 64 entries by default. The log keeps 128 lines of history.",
     "To enable the cache:",
     "1. Install the package",
     "2. Run the setup",
     "3. Restart the service",
     "The format follows the standard convention 4 used elsewhere.",
     "", "", "",
     "4 See the appendix for details."],
    ["2.2 Threads",
     "The scheduler runs 8 worker threads per core. See 2.3 Disk for the archive layout.",
     "The build farm compiled 1,250 packages in 2021.",
     "Figure 1: Thread usage over a day"],
    ["2.3 Disk",
     "The archive stores 2,048 files on the mirror. The large profile of the cache holds 128 entries.",
     "Figure 2: Disk usage per target"],
    ["3 Appendix",
     "The appendix lists the options of every widget and the signals they emit."],
]
SECTIONS = [(1, 0, "1 Introduction"), (2, 0, "2 Performance"), (3, 1, "2.1 Memory"), (4, 1, "2.2 Threads"),
            (5, 1, "2.3 Disk"), (6, 0, "3 Appendix")]


def write_manual(path: Path) -> Path:
    c = canvas.Canvas(str(path), pagesize=A4)
    w, h = A4
    for i, lines in enumerate(PAGES):
        if i:
            c.setFont("Helvetica", 9)
            c.drawString(72, h - 40, TITLE)                 # running header
            c.drawString(w / 2, 30, str(i + 1))            # page number
        y = h - 90
        for ln in lines:
            c.setFont("Helvetica", 10)
            c.drawString(72, y, ln)
            y -= 16
        c.showPage()
    c.save()
    return path


def read_manual(path: Path) -> Document:
    """The manual as the page store holds it: pdfium's text layer per page, the outline as sections."""
    pages = [{"doc_id": "manual", "page": i, "text": t, "text_source": "layer"}
             for i, t in enumerate(page_texts(path))]
    secs = [{"first_page": f, "level": lv, "heading": hd} for f, lv, hd in SECTIONS]
    return Document("manual", str(path), len(pages), TITLE, secs, pages)
