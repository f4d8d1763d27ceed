"""The translator's refusal, and where in the query a node starts."""

from __future__ import annotations

from sqlglot import exp


class AdqlError(ValueError):
    """A query that cannot run, with where in the query the problem is (1-based)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.message, self.line, self.column = message, line, column
        where = f" (line {line}, column {column})" if line else ""
        super().__init__(message + where)

    def __reduce__(self):  # it crosses from the process that translated a large query
        return AdqlError, (self.message, self.line, self.column)


def position(node: exp.Expr) -> tuple[int | None, int | None]:
    """Line and column where a node starts: its first identifier or literal, as sqlglot
    recorded them (its `col` is where a token ends)."""
    starts = []
    for sub in node.walk():
        meta = getattr(sub, "_meta", None) or {}
        if "line" in meta:
            starts.append((meta["line"], meta["col"] - (meta["end"] - meta["start"])))
    return min(starts) if starts else (None, None)
