"""What a new user sees when a command line is wrong: the subcommand's own usage with the flag it probably meant,
and no output folder left behind by a command that failed before writing anything."""

from __future__ import annotations

import pytest

from mmprolong.cli.main import main


@pytest.mark.parametrize("argv,usage,hint", [
    (["ingest", "pdfs", "--wokers", "2"], "usage: mmprolong ingest", "did you mean --workers?"),
    (["ingest", "pdfs", "--out", "s", "--wokers", "2"], "usage: mmprolong ingest", "did you mean --workers?"),
    (["eval", "build", "--qa", "q.jsonl", "--stroe", "s", "--out", "o"], "usage: mmprolong eval build",
     "did you mean --store?"),
    (["plan", "--gpu-mme", "80"], "usage: mmprolong plan", "did you mean --gpu-mem?"),
    (["ingset", "pdfs"], "usage: mmprolong [", "did you mean ingest?"),
])
def test_a_mistyped_flag_gets_the_subcommands_usage_and_a_suggestion(argv, usage, hint, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2
    assert usage in err and hint in err, err
    typo = next(a for a in argv if a.startswith("--") and a not in ("--out", "--qa")) if argv[0] != "ingset" \
        else "'ingset'"
    assert typo in err.splitlines()[-1]


def test_flags_and_negative_values_are_not_taken_for_typos(capsys):
    """A value that starts with a dash and an abbreviation of a real flag are not reported as unknown flags."""
    with pytest.raises(SystemExit):
        main(["plan", "--length=-8K"])
    err = capsys.readouterr().err
    assert "unrecognized" not in err and "-8K" in err
    with pytest.raises(SystemExit):
        main(["ingest", "--jpeg", "80"])       # an abbreviation: only the missing arguments are reported
    err = capsys.readouterr().err
    assert "unrecognized" not in err and "required" in err


def _failing_commands(tmp_path):
    bad = tmp_path / "bad-key.yaml"
    bad.write_text("name: x\nbogus_key: 1\n")
    return {
        "ingest of a missing path": ["ingest", str(tmp_path / "no-such-pdfs"), "--out", str(tmp_path / "out")],
        "an unknown recipe": ["build", "--recipe", "no-such-recipe", "--store", str(tmp_path), "--out",
                              str(tmp_path / "out")],
        "a bad recipe key": ["build", "--recipe", str(bad), "--store", str(tmp_path), "--out", str(tmp_path / "out")],
        "eval build without its QA file": ["eval", "build", "--qa", str(tmp_path / "no-such.jsonl"), "--store",
                                           str(tmp_path), "--out", str(tmp_path / "out")],
        "import-sft with a missing input": ["import-sft", str(tmp_path / "no-such.json"), "--out",
                                            str(tmp_path / "out" / "sft")],
    }


@pytest.mark.parametrize("case", ["ingest of a missing path", "an unknown recipe", "a bad recipe key",
                                  "eval build without its QA file", "import-sft with a missing input"])
def test_a_failed_command_leaves_no_folder_holding_only_its_log(case, tmp_path, capsys):
    argv = _failing_commands(tmp_path)[case]
    assert main(argv) != 0
    assert "error" in capsys.readouterr().err
    assert not (tmp_path / "out").exists(), sorted(p.name for p in (tmp_path / "out").rglob("*"))


def test_a_folder_that_existed_before_is_never_removed(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert main(["ingest", str(tmp_path / "no-such-pdfs"), "--out", str(out)]) != 0
    assert out.is_dir() and (out / "mmprolong.log").is_file()    # the log of the failure stays with the folder


def test_a_failed_command_keeps_a_new_folder_that_holds_output(tmp_path, monkeypatch):
    """Only bookkeeping is tidied away: a folder with anything else in it (a partial, resumable output) stays."""
    import mmprolong.cli.ingest as ingest_cli

    def half_done(args):
        from pathlib import Path

        Path(args.out, "docs").mkdir(parents=True)
        Path(args.out, "docs", "part-0.parquet").write_bytes(b"x")
        raise ValueError("stopped half way")

    monkeypatch.setattr(ingest_cli, "run", half_done)
    assert main(["ingest", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert (tmp_path / "out" / "docs" / "part-0.parquet").is_file()


def test_a_missing_exclusion_list_says_where_it_comes_from(tmp_path, capsys):
    """README step 1 uses the exclusion list step 0 writes; a user who skipped step 0 is told what it is."""
    pdf = tmp_path / "a.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    assert main(["ingest", str(pdf), "--out", str(tmp_path / "store"), "--exclude", "eval_hashes.txt"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--exclude eval_hashes.txt: no such file" in err and "import-mmlongbench" in err
    assert "leave --exclude out" in err
    assert not (tmp_path / "store").exists()


def test_a_value_that_starts_with_a_dash_is_not_a_typo(capsys):
    """The word after a flag that takes a value is that value: only the real error is reported."""
    with pytest.raises(SystemExit):
        main(["eval", "build", "--qa", "q.jsonl", "--page-label", "- page {index} -", "--store", "s"])
    err = capsys.readouterr().err
    assert "unrecognized" not in err and "required: --out" in err
