"""`mmprolong` entry point: one command tree. Subcommands live in sibling modules, each with `register(sub)`."""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__

# module name under mmprolong.cli -> registers these commands
COMMAND_MODULES = ("ingest", "tokens", "synth", "build", "export", "train", "plan", "evaluate", "demo")


class CLIError(Exception):
    """A user error: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mmprolong", description=__doc__.split(":")[0] if __doc__ else None)
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
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from ..errors import EXIT_OUTPUT, EXIT_SETUP, OutputError, SetupError, output_error_from
    from ..redact import install_log_redaction, redact

    install_log_redaction()

    def fail(msg, code: int) -> int:
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
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
