"""Where the command line and the cohort runs write files: never over their own input.

One check for every command that writes files it names: ``cohort score``, ``cohort lesions``,
``cohort synth`` and ``assess -o``. Kept free of heavy imports, so a command pays nothing for it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from spinemets.errors import InvalidInputError

UNWRITABLE = "a file spinemets can write"
"""What an output path must be when the file system refuses it (the reason follows in the message)."""
PARTIAL_NAME_CHARS = 40
"""Characters of the output's name kept in its partial file's name (at most 160 bytes of UTF-8)."""


def check_outputs(outputs: Mapping[str, Path], input: Path | None = None) -> None:
    """Refuse, before anything is written, an output that would replace the input or another output,
    or that lies in a folder that does not exist (``outputs``: option name -> path)."""
    seen: dict[Path, str] = {input.resolve(): "input"} if input is not None else {}
    for option, path in outputs.items():
        where = path.resolve()
        if where in seen:
            raise InvalidInputError(
                option, str(path), f"a file other than the {seen[where]} (it would be overwritten)"
            )
        try:
            no_folder, folder = not where.parent.is_dir(), where.is_dir()
        except OSError as exc:  # a name longer than the file system allows: is_dir() raises, not False
            raise InvalidInputError(
                option, str(path), UNWRITABLE, exc.strerror or type(exc).__name__
            ) from None
        if no_folder:
            raise InvalidInputError(
                option, str(path), "a path in an existing folder", f"no folder {path.parent}"
            )
        if folder:
            raise InvalidInputError(option, str(path), "a file path", "it is a folder")
        seen[where] = option


def write_output(option: str, path: Path, content: str | bytes) -> None:
    """Write ``content`` to ``path`` whole or not at all, naming ``option`` when it cannot be written.

    Written beside it first (``.<start of the name>.<random>.partial``, short enough for any name the
    file system takes at ``path``) and moved over it when complete, so a file already at ``path`` stays
    as it was if the write fails (a full disk, a name the file system refuses).
    """
    partial = path.with_name(f".{path.name[:PARTIAL_NAME_CHARS]}.{secrets.token_hex(4)}.partial")
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # mode as any new file (umask)
    except OSError as exc:
        raise InvalidInputError(option, str(path), UNWRITABLE, exc.strerror or type(exc).__name__) from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InvalidInputError(option, str(path), UNWRITABLE, exc.strerror or type(exc).__name__) from None
