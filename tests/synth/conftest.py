from __future__ import annotations

import pytest

from .docs import pdf_documents
from .teacher_server import TeacherServer


@pytest.fixture(scope="session")
def demo_documents(demo_pdfs, demo_plans):
    """The demo corpus as Documents (text layer read by pdfium from the real PDFs)."""
    return pdf_documents(demo_pdfs, demo_plans)


@pytest.fixture
def teacher():
    s = TeacherServer()
    yield s
    s.close()
