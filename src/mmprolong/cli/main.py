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
COMMAND_MODULES = ("ingest", "dedup", "compact", "tokens", "synth", "build", "export", "import_sft", "train", "plan",
                   "evaluate", "demo", "view", "grades")
OUT_ATTRS = ("out", "output_dir", "to")  # the folder a command writes, where its log file goes
FILE_SUFFIXES = (".jsonl", ".json", ".txt", ".parquet", ".csv", ".yaml", ".yml")  # an --out that names a file

log = logging.getLogger("mmprolong.cli")


class CLIError(Exception):
    """A user error: printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    """The parser of every command and subcommand (argparse gives subparsers their parent's class).

    An unknown flag is reported by the (sub)command it was given to, with that command's usage and the closest flag
    it has ("did you mean --workers?"): plain argparse hands a subcommand's unknown flags back to the top-level
    parser, which prints the top-level usage and no suggestion."""

    def parse_known_args(self, args=None, namespace=None):
        self._seen = list(sys.argv[1:] if args is None else args)
        ns, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}{self._did_you_mean(extras)}")
        return ns, extras

    def _unknown_flags(self, words: list[str]) -> list[str]:
        """Words that look like flags this parser does not have (abbreviations of its flags are known; the word
        after a flag that takes a value is that value, even when it starts with a dash)."""
        known = {s: a for a in self._actions for s in a.option_strings}
        out, skip = [], False
        for w in words:
            if skip:
                skip = False
                continue
            if w == "--":
                break
            name = w.split("=", 1)[0]
            if len(name) < 2 or name[0] != "-" or name[1].isdigit():
                continue
            hits = [a for k, a in known.items() if k == name or (name.startswith("--") and k.startswith(name))]
            if hits:
                skip = "=" not in w and hits[0].nargs != 0
                continue
            out.append(w)
        return out

    def _did_you_mean(self, extras: list[str]) -> str:
        import difflib

        flags = [s for a in self._actions if a.help != argparse.SUPPRESS for s in a.option_strings]
        for x in extras:
            if x.startswith("-"):
                close = difflib.get_close_matches(x.split("=", 1)[0], flags, n=1, cutoff=0.6)
                if close:
                    return f" (did you mean {close[0]}?)"
        return ""

    def error(self, message: str):
        import difflib
        import re

        leaf = not any(isinstance(a, argparse._SubParsersAction) for a in self._actions)
        unknown = self._unknown_flags(getattr(self, "_seen", [])) if leaf else []
        if unknown and not message.startswith("unrecognized"):   # the mistyped flag first: it is the likely cause
            message = f"unrecognized arguments: {' '.join(unknown)}{self._did_you_mean(unknown)}"
        m = re.search(r"invalid choice: '?([^'\s]*)'?", message)
        commands = [c for a in self._actions if isinstance(a, argparse._SubParsersAction) for c in a.choices]
        if m and commands:   # a mistyped command name
            close = difflib.get_close_matches(m[1], commands, n=1, cutoff=0.6)
            if close:
                message += f" (did you mean {close[0]}?)"
        super().error(message)


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
    p = Parser(prog="mmprolong", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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


def _new_root(folder: str | None):
    """The outermost folder that writing `folder` would create (None when `folder` exists already)."""
    from pathlib import Path

    if not folder:
        return None
    p = Path(folder).absolute()
    if p.exists():
        return None
    while not p.parent.exists():
        p = p.parent
    return p


def _only_bookkeeping(folder) -> bool:
    from ..run.outdir import is_bookkeeping

    for c in folder.iterdir():
        if c.is_dir() and not c.is_symlink():
            if not _only_bookkeeping(c):
                return False
        elif not is_bookkeeping(c.name):
            return False
    return True


def _drop_if_bookkeeping(root) -> None:
    """After a failed command: remove the folder it created when that holds nothing but its log and lock files, so
    that a mistyped path or a bad recipe leaves no empty output behind. A folder that existed before, or that holds
    anything else (a resumable partial output), stays; so does one another process holds the lock of."""
    import shutil

    from filelock import FileLock, Timeout

    from ..run.outdir import LOCK

    try:
        if root is None or not root.is_dir() or not _only_bookkeeping(root):
            return
        locks = [FileLock(str(p), timeout=0, thread_local=False) for p in root.rglob(LOCK)]
        held = []
        try:
            for lk in locks:
                lk.acquire()
                held.append(lk)
            shutil.rmtree(root)
            log.debug("removed %s: the failed command wrote nothing into it", root)
        except Timeout:
            return
        finally:
            for lk in held:
                lk.release()
    except OSError as e:   # never fail the exit over tidying
        log.debug("could not remove %s: %s", root, e)


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
    new_root = _new_root(_out_folder(args))
    _open_log(args, argv)
    t0 = time.monotonic()
    rc: int | None = 1

    def fail(msg, code: int) -> int:
        nonlocal rc
        rc = code
        log.debug("error", exc_info=True)
        name = " ".join(str(c) for c in (args.command, getattr(args, "eval_command", None),
                                          getattr(args, "train_command", None)) if c)
        print(f"mmprolong {name}: error: {redact(msg)}", file=sys.stderr)
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
        if rc != 0:
            _drop_if_bookkeeping(new_root)
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
