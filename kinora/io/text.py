"""Text files a user hands Kinora (a story, a jobs list, a caption): read as UTF-8, or refused
in one line that names the file and what to do."""

from __future__ import annotations

import os
from pathlib import Path

from kinora.errors import KinoraError


def read_text_file(path: str | os.PathLike, what: str, expected: str) -> str:
    """The file's text (a byte-order mark dropped: it is not part of the text). `what` names the
    file in "not found" ("jobs file"); `expected` says what to give instead of a folder."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise KinoraError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise KinoraError(f"{path} is a folder; give {expected}") from None
    except UnicodeDecodeError:
        raise KinoraError(f"{path} is not UTF-8 text; save it as UTF-8") from None
    except OSError as e:
        raise KinoraError(f"cannot read {path}: {e.strerror or e}") from None
