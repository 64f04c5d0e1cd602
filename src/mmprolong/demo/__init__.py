"""The built-in demo corpus: realistic report PDFs with known facts, and broken files, made on the fly."""

from .corpus import DemoDocument, Fact, plan_demo_corpus, plan_document, write_broken_files, write_demo_corpus

__all__ = ["DemoDocument", "Fact", "plan_demo_corpus", "plan_document", "write_broken_files", "write_demo_corpus"]
