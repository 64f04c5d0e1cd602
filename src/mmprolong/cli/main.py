"""mmprolong: long-context training data, training and evaluation for vision-language models (the MMProLong recipe).

PDFs -> page store (ingest) -> verified long-document QA at exact token lengths (build) -> training shards
(export to LLaMA-Factory / ms-swift) -> long-context training (plan, train) -> evaluation from 8K to 512K (eval).
Every command has --help; every output folder gets a log file (mmprolong.log).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .. import __version__

# module name under mmprolong.cli -> registers these commands
COMMAND_MODULES = ("ingest", "dedup", "compact", "tokens", "synth", "build", "export", "import_sft", "train", "plan", "evaluate", "demo")
OUT_ATTRS = ("out", "output_dir", "to")  # the folder a command writes, where its log file goes
FILE_SUFFIXES = (".jsonl", ".json", ".txt", ".parquet", ".csv", ".yaml", ".yml")  # an --out that names a file

log = logging.getLogger("mmprolong.cli")


class CLIError(Exception):
    """A user error: printed as one line, exit code 2."""


def _subparsers(p: argparse.ArgumentParser):
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            yield from a.choices.values()


def _add_log_level(p: argparse.ArgumentParser, top: bool) -> None:
    """--log-level on every command and subcommand (given anywhere on the line)."""
    p.add_argument("--log-level", default="info" if top else argparse.SUPPRESS,
                   choices=("debug", "info", "warning", "error"), type=str.lower,
                   help="terminal log level; the log file in the output folder always keeps debug (default: info)")
    for sp in _subparsers(p):
        _add_log_level(sp, False)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mmprolong", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"mmprolong {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(f"mmprolong.cli.{name}")
        except ModuleNotFoundError as e:  # a command module not written yet
            if e.name == f"mmprolong.cli.{name}":
                continue
            raise
        mod.register(sub)
    _add_log_level(p, True)
    return p


def _out_folder(args: argparse.Namespace) -> str | None:
    for k in OUT_ATTRS:
        v = getattr(args, k, None)
        if isinstance(v, str) and v and "://" not in v:
            from pathlib import Path

            return str(Path(v).parent) if Path(v).suffix.lower() in FILE_SUFFIXES else v
    return None


def _open_log(args: argparse.Namespace, argv: list[str]) -> None:
    from pathlib import Path

    from .. import logs

    out = _out_folder(args)
    if out and (Path(out).is_dir() or not Path(out).exists()):
        try:
            path = logs.log_to(out)
        except OSError as e:  # the command itself reports an unusable folder, with its own message
            log.debug("no log file in %s: %s", out, e)
            return
        log.debug("mmprolong %s: mmprolong %s", __version__, " ".join(argv))
        log.debug("log file %s", path)


def main(argv: list[str] | None = None) -> int:
    import time

    from .. import logs
    from ..errors import EXIT_OUTPUT, EXIT_SETUP, OutputError, SetupError, output_error_from
    from ..redact import install_log_redaction, redact

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    install_log_redaction()
    logs.setup(getattr(args, "log_level", "info"))
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    _open_log(args, argv)
    t0 = time.monotonic()
    rc: int | None = 1

    def fail(msg, code: int) -> int:
        nonlocal rc
        rc = code
        log.debug("error", exc_info=True)
        print(f"mmprolong {args.command}: error: {redact(msg)}", file=sys.stderr)
        return code

    try:
        rc = args.func(args)
    except SetupError as e:
        return fail(e, EXIT_SETUP)
    except OutputError as e:
        return fail(e, EXIT_OUTPUT)
    except (CLIError, FileNotFoundError, ValueError, KeyError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        return fail(msg, 2)
    except OSError as e:  # disk full, read-only folder, a file where a folder should be: one line, not a traceback
        out = output_error_from(e)
        if out is None:
            raise
        return fail(out, EXIT_OUTPUT)
    except KeyboardInterrupt:
        print("interrupted; run the same command again to resume", file=sys.stderr)
        rc = 130
        return rc
    finally:
        log.debug("mmprolong %s: exit code %s after %.1f s", args.command, rc, time.monotonic() - t0)
        logs.close_files()
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
