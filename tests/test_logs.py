"""Logging: our records on the terminal at the chosen level, everything (third parties too) in the output folder's
log file, nothing of theirs on the terminal."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from mmprolong import logs


@pytest.fixture(autouse=True)
def _clean():
    yield
    logs.close_files()
    logging.captureWarnings(False)


def test_terminal_gets_our_records_at_the_level_and_the_file_gets_everything(tmp_path):
    """In a fresh interpreter (pytest replaces warnings.showwarning inside tests)."""
    code = f"""
import logging, warnings
from mmprolong import logs
logs.setup("warning")
path = logs.log_to({str(tmp_path / "out")!r})
ours = logging.getLogger("mmprolong.test")
ours.info("an info line")
ours.warning("a warning line")
logging.getLogger("ray").warning("ray token warning")
warnings.warn("distributed is disabled", UserWarning)
logs.close_files()
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "a warning line" in r.stderr and "an info line" not in r.stderr
    assert "ray token warning" not in r.stderr and "distributed is disabled" not in r.stderr
    text = (tmp_path / "out" / "mmprolong.log").read_text()
    for line in ("an info line", "a warning line", "ray token warning", "distributed is disabled"):
        assert line in text


def test_log_to_is_idempotent(tmp_path):
    logs.setup("info")
    logs.log_to(tmp_path)
    logs.log_to(tmp_path)
    n = sum(isinstance(h, logging.FileHandler) for h in logging.getLogger().handlers)
    assert n == 1


def test_bad_level_names_the_flag():
    with pytest.raises(ValueError, match="--log-level"):
        logs.setup("loud")


def test_a_command_writes_its_log_file_in_its_output_folder(tmp_path, demo_pdfs):
    import shutil

    from mmprolong.cli.main import main

    pdfs = tmp_path / "pdfs"   # one demo PDF at a low DPI: the log is the point, not the pages
    pdfs.mkdir()
    shutil.copy(demo_pdfs[0], pdfs)
    out = tmp_path / "store"
    assert main(["ingest", str(pdfs), "--out", str(out), "--workers", "1", "--dpi", "36",
                 "--log-level", "warning"]) == 0
    log = (out / "mmprolong.log").read_text()
    assert f"mmprolong ingest {pdfs}" in log and "exit code 0" in log
