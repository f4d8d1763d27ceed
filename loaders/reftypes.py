"""Generate sql/71_hst_reftypes.sql from data/hst/reftypes.csv (CRDS's HST reference types).

Each row of the CSV is one reference type of one instrument: the header keyword that names the
file (BIASFILE), its suffix (bia), the keywords that select it (parkeys), the calibration
switch (BIASCORR) and CRDS's relevance condition, a small Python-like expression such as
``((DETECTOR != "SBC") and (BIASCORR != "OMIT"))``. The relevance conditions become one SQL
function, hst.reftype_relevant(instrument, reftype, header), a CASE with a branch per type, so
that the database decides which datasets a reference type applies to without evaluating text.

Run ``python -m loaders.reftypes > sql/71_hst_reftypes.sql`` after changing the CSV;
tests/test_reference_files.py fails while the committed file differs from this output.
"""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

CSV = Path(__file__).resolve().parent.parent / "data" / "hst" / "reftypes.csv"
TOKEN = re.compile(r'\s*(?:(?P<string>"[^"]*")|(?P<op>==|!=|\(|\)|\[|\]|,)|(?P<word>[A-Za-z_][A-Za-z0-9_-]*))')


class RelevanceError(ValueError):
    """A relevance expression outside the grammar CRDS's HST rules use."""


def _tokens(expression: str) -> list[str]:
    tokens, position = [], 0
    while position < len(expression.rstrip()):
        match = TOKEN.match(expression, position)
        if not match:
            raise RelevanceError(f"cannot read {expression!r} at {position}")
        tokens.append(match.group(match.lastgroup))
        position = match.end()
    return tokens


def relevance_sql(expression: str) -> str:
    """A CRDS relevance expression as SQL over the jsonb `header` (a missing keyword reads as
    UNDEFINED, as in CRDS). ALWAYS or nothing is true."""
    if expression.strip() in ("", "ALWAYS"):
        return "true"
    tokens = _tokens(expression)
    sql, position = _disjunction(tokens, 0)
    if position != len(tokens):
        raise RelevanceError(f"unexpected {tokens[position]!r} in {expression!r}")
    return sql


def _disjunction(tokens: list[str], i: int) -> tuple[str, int]:
    return _chain(tokens, i, "or", _conjunction)


def _conjunction(tokens: list[str], i: int) -> tuple[str, int]:
    return _chain(tokens, i, "and", _term)


def _chain(tokens: list[str], i: int, word: str, operand) -> tuple[str, int]:
    """operand (word operand)*, as SQL: `or` binds looser than `and`, as in Python."""
    left, i = operand(tokens, i)
    while i < len(tokens) and tokens[i] == word:
        right, i = operand(tokens, i + 1)
        left = f"({left} {word.upper()} {right})"
    return left, i


def _literal(token: str) -> str:
    if not token.startswith('"'):
        raise RelevanceError(f"expected a string, not {token!r}")
    return "'" + token.strip('"').upper().replace("'", "''") + "'"


def _term(tokens: list[str], i: int) -> tuple[str, int]:
    if tokens[i] == "(":
        inner, i = _disjunction(tokens, i + 1)
        if tokens[i] != ")":
            raise RelevanceError("unbalanced parentheses")
        return inner, i + 1
    if tokens[i] == "not":
        inner, i = _term(tokens, i + 1)
        return f"NOT {inner}", i
    keyword = f"hst.selection_value(header, '{tokens[i]}')"
    operator = tokens[i + 1]
    if operator in ("==", "!="):
        return f"{keyword} {'=' if operator == '==' else '<>'} {_literal(tokens[i + 2])}", i + 3
    negated = operator == "not"
    if negated:
        i += 1
    if tokens[i + 1] != "in" or tokens[i + 2] != "[":
        raise RelevanceError(f"expected ==, != or in after {tokens[i]}")
    values, j = [], i + 3
    while tokens[j] != "]":
        if tokens[j] != ",":
            values.append(_literal(tokens[j]))
        j += 1
    return f"{keyword} {'NOT IN' if negated else 'IN'} ({', '.join(values)})", j + 1


def _keys(text: str) -> list[str]:
    return [k for k in text.split("|")[0].strip().split(";") if k]


def _array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]::text[]" if values else "'{}'::text[]"


def _quoted(value: str) -> str:
    return "NULL" if not value or value == "NONE" else "'" + value.replace("'", "''") + "'"


def generate(path: Path = CSV) -> str:
    """The SQL of the reference types in `path`."""
    with path.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    values, branches = [], []
    for row in rows:
        instrument, reftype = row["instrument"].upper(), row["reftype"]
        # the keys the real (2013) rules select on where there are such rules, else the spec's
        parkeys = _keys(row["rmap_2013_parkeys"]) or _keys(row["parkeys"])
        values.append(f"    ('{instrument}', '{reftype}', '{row['keyword']}', {_quoted(row['suffix'])}, "
                      f"{_array(parkeys)}, {_array(_keys(row['useafter_keys']))}, "
                      f"{_quoted(row['switch'])}, {_quoted(row['relevance'])}, "
                      f"{_quoted(row['text_descr'])})")
        condition = relevance_sql(row["relevance"])
        if condition != "true":
            branches.append(f"        WHEN instrument = '{instrument}' AND reftype = '{reftype}'\n"
                            f"            THEN {condition}")
    return HEADER + "\n".join([
        "INSERT INTO hst.reftype (instrument, reftype, keyword, suffix, parkeys, useafter_keys,",
        "                         switch, relevance, description) VALUES",
        ",\n".join(values),
        "ON CONFLICT (instrument, reftype) DO UPDATE SET",
        "    keyword = EXCLUDED.keyword, suffix = EXCLUDED.suffix, parkeys = EXCLUDED.parkeys,",
        "    useafter_keys = EXCLUDED.useafter_keys, switch = EXCLUDED.switch,",
        "    relevance = EXCLUDED.relevance, description = EXCLUDED.description;",
        "",
        "-- does a reference type apply to a dataset with this header? (CRDS's relevance condition)",
        "CREATE OR REPLACE FUNCTION hst.reftype_relevant(instrument text, reftype text, header jsonb)",
        "RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS",
        "$$ SELECT CASE",
        "\n".join(branches),
        "        ELSE true END $$;",
        ""])


HEADER = """-- GENERATED by `python -m loaders.reftypes` from data/hst/reftypes.csv: do not edit.
--
-- CRDS's HST reference types (crds 14.0.3, combined_specs.json and the 2013 rmaps) and their
-- relevance conditions as SQL. A missing keyword reads as UNDEFINED, as in CRDS.

"""

if __name__ == "__main__":
    sys.stdout.write(generate())
