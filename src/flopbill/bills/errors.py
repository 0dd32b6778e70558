"""The one error a bad bill file raises: it names the file, the column and the row."""

from __future__ import annotations

from pathlib import Path

from flopbill.errors import FlopbillError


class BillFileError(FlopbillError, ValueError):
    """A bill file cannot be imported; nothing of it (or of the other files in the import) was written.

    ``row`` is the 1-based data row (the header is not counted); ``None`` when the problem is the whole
    file (unreadable) or its header (a missing column).
    """

    def __init__(self, file: Path | str, column: str | None, row: int | None, problem: str) -> None:
        self.file = str(file)
        self.column = column
        self.row = row
        self.problem = problem
        where = [self.file]
        if column is not None:
            where.append(f"column {column}")
        if row is not None:
            where.append(f"row {row}")
        super().__init__(f"{', '.join(where)}: {problem}; nothing was imported")
