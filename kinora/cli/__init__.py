"""The `kinora` command: parse, call the library, print.

Each command group lives in its own module here and adds itself with `register(sub)`;
no model logic belongs in this package. A `KinoraError` is printed as one line and
exits non-zero, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading

from kinora.errors import KinoraError

# Command modules, in the order they appear in `kinora --help`.
COMMAND_MODULES = ["kinora.cli.demo", "kinora.cli.generate", "kinora.cli.backends", "kinora.cli.project",
                   "kinora.cli.film",
                   "kinora.cli.batch",
                   "kinora.cli.studio",
                   "kinora.cli.world",
                   "kinora.cli.inspect",
                   "kinora.cli.train", "kinora.cli.captions", "kinora.cli.eval", "kinora.cli.bench",
                   "kinora.cli.results",
                   "kinora.cli.presets"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like every other bad input
        self.exit(2, f"error: {' '.join(message.split())} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kinora", description="Kinora: Sora-style video generation on a CPU.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _terminate(signum, frame):
    # SIGTERM (a service manager, `kill`, a closed terminal) unwinds like Ctrl-C, so every
    # atomic write removes its temporary file and every claimed output its lock.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, or a usage error already printed as one line
        return e.code if isinstance(e.code, int) else 2
    previous = signal.signal(signal.SIGTERM, _terminate) if threading.current_thread() is threading.main_thread() \
        else None
    try:
        return int(args.func(args) or 0)
    except KinoraError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("error: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as e:  # the machine refused a file operation: a full disk, a read-only folder, ...
        where = f" {e.filename}" if e.filename else ""
        print(f"error: cannot access{where}: {e.strerror or e}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: out of memory; ask for fewer frames or a smaller size", file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
