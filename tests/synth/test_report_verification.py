"""The data report's verification section: rejections per check, items the rules could not check, and the share
of kept items whose evidence the rule checks read."""

from __future__ import annotations

from mmprolong.dataset.report import evidence_checked, verification_section


def test_verification_section_counts_unchecked_items_and_checked_share():
    manifest = {"recipe": {"verify": {"kind": "none"}}}
    rejected = [{"task": "extract-single", "reason": "verify: answer_not_at_labels"},
                {"task": "reasoning", "reason": "verify: unchecked_by_rules"},
                {"task": "reasoning", "reason": "verify: recount_mismatch, unchecked_by_rules"},
                {"task": "extract-single", "reason": "no-qa: nothing"}]
    qa = [{"task": "extract-single", "checks_passed": ["format_ok", "answer_in_evidence", "answer_at_labels"]},
          {"task": "extract-multi", "checks_passed": ["format_ok", "answer_at_labels:ocr"]},
          {"task": "reasoning", "checks_passed": ["format_ok", "verifier_agrees", "checked_by_verifier_only"]},
          {"task": "ocr-full", "checks_passed": []}]
    md = "\n".join(verification_section(manifest, rejected, qa))
    assert "| unchecked_by_rules | rule | 2 |" in md and "| answer_not_at_labels | rule | 1 |" in md
    assert "2 candidates rejected, 1 kept because the verifier model agreed" in md
    assert "Kept QA items whose evidence the rule checks read: 2 of 3 (66.7%)." in md
    assert evidence_checked(["recounted_from_structure"]) and not evidence_checked(["recomputed", "format_ok"])
