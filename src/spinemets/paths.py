"""Where the command line and the cohort runs write files: never over their own input.

One check for every command that writes files it names: ``cohort score``, ``cohort lesions``,
``cohort synth`` and ``assess -o``. Kept free of heavy imports, so a command pays nothing for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from spinemets.errors import InvalidInputError


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
        if not where.parent.is_dir():
            raise InvalidInputError(
                option, str(path), "a path in an existing folder", f"no folder {path.parent}"
            )
        if where.is_dir():
            raise InvalidInputError(option, str(path), "a file path", "it is a folder")
        seen[where] = option
