"""SQL building blocks shared by the format adapters: column look-up by name, casts, tag maps.

Every adapter maps a raw relation (the file as read, one row per line, plus ``__row``) onto the
canonical columns of :mod:`flopbill.bills.schema` with DuckDB SQL expressions. Casts are ``TRY_CAST``
so that a bad value becomes ``NULL``; :class:`Check` then finds the first row where a present value
did not convert, and the import stops there with the file, column and row.
"""

from __future__ import annotations

from dataclasses import dataclass

from flopbill.bills.schema import MONEY_SQL


@dataclass(frozen=True)
class Check:
    """A typed column: ``source`` present but ``converted`` NULL means the row is malformed."""

    column: str
    source: str
    converted: str
    expected: str


class Columns:
    """The columns of a raw relation, looked up case-insensitively, with their DuckDB types."""

    def __init__(self, described: list[tuple[str, str]]) -> None:
        self._by_lower = {name.lower(): (name, sql_type) for name, sql_type in described}

    def has(self, name: str) -> bool:
        """True if the relation has column ``name`` (or, for ``a.b``, struct column ``a``)."""
        return self.ref(name) != "NULL"

    def actual(self, name: str) -> str | None:
        """Return the column's name as the file spells it, or None."""
        found = self._by_lower.get(name.lower())
        return found[0] if found else None

    def type_of(self, name: str) -> str:
        """Return the DuckDB type of column ``name`` ('' if absent or nested)."""
        found = self._by_lower.get(name.lower())
        return found[1] if found else ""

    def ref(self, name: str) -> str:
        """Return a SQL reference to ``name``: a flat column, ``a.b`` in a struct column, else ``NULL``."""
        found = self._by_lower.get(name.lower())
        if found:
            return quote(found[0])
        head, _, rest = name.partition(".")
        if rest and self.type_of(head).upper().startswith("STRUCT"):
            return f"{quote(self._by_lower[head.lower()][0])}.{quote(rest)}"
        return "NULL"

    def first(self, *names: str) -> str:
        """Return ``COALESCE`` of those of ``names`` that exist, ``NULL`` if none does."""
        refs = [self.ref(n) for n in names if self.has(n)]
        if not refs:
            return "NULL"
        return refs[0] if len(refs) == 1 else f"COALESCE({', '.join(refs)})"

    def ts(self, name: str) -> str:
        """Return column ``name`` as a UTC TIMESTAMP; a column already typed TIMESTAMP is used as is."""
        if self.type_of(name).upper() == "TIMESTAMP":
            return self.ref(name)
        return timestamp(self.ref(name))

    def text(self, name: str) -> str:
        """Return column ``name`` as VARCHAR (NULL if absent)."""
        ref = self.ref(name)
        return "NULL" if ref == "NULL" else f"CAST({ref} AS VARCHAR)"


def quote(name: str) -> str:
    """Return ``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """Return ``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def money(src: str) -> str:
    """Return ``src`` cast to the money type, NULL where it does not parse."""
    return f"TRY_CAST({src} AS {MONEY_SQL})"


def timestamp(src: str) -> str:
    """Return ``src`` as a UTC TIMESTAMP (ISO 8601 with or without offset), NULL where it does not parse."""
    return f"TRY_CAST(TRY_CAST({src} AS TIMESTAMPTZ) AS TIMESTAMP)"


def normalized_tags(map_sql: str) -> str:
    """Return a tag MAP with keys lower-cased and CUR's ``user_``/``user:`` prefix removed.

    Tag keys differ by provider only in case and prefix (CUR 2.0 writes user tags as ``user_team``);
    rules match the normalised key. Values keep their case.
    """
    return (
        f"map_from_entries(list_transform(map_entries({map_sql}), "
        "e -> {'key': regexp_replace(lower(e.key), '^user[_:]', ''), 'value': CAST(e.value AS VARCHAR)}))"
    )


def json_object_tags(text_sql: str) -> str:
    """Return a JSON object string (``{"k": "v"}``) as a normalised tag MAP; NULL/'' give an empty map."""
    return normalized_tags(
        f"COALESCE(CASE WHEN trim({text_sql}) IN ('', '{{}}') THEN NULL "
        f"ELSE json_transform({text_sql}, '\"MAP(VARCHAR, VARCHAR)\"') END, MAP {{}})"
    )


def json_valid_check(column: str, text_sql: str) -> Check:
    """Return a check that a JSON text column parses."""
    return Check(
        column, f"NULLIF(trim({text_sql}), '')", f"CASE WHEN json_valid({text_sql}) THEN 1 END", "JSON"
    )
