"""The `kinora` command: parse, call the library, print.

Each command group lives in its own module here and adds itself with `register(sub)`;
no model logic belongs in this package. A `KinoraError` is printed as one line and
exits non-zero, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from kinora.errors import KinoraError

# Command modules, in the order they appear in `kinora --help`.
COMMAND_MODULES = ["kinora.cli.demo", "kinora.cli.generate", "kinora.cli.world", "kinora.cli.inspect", "kinora.cli.train",
                   "kinora.cli.eval", "kinora.cli.bench"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like every other bad input
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kinora", description="Kinora: Sora-style video generation on a CPU.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KinoraError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
