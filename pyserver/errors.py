"""What a user is told when the database refuses a query: the meaning, in ADQL's words.

The database's own messages name its internals (types such as `scircle` or `double precision[]`,
functions of the adql schema, relations of the translation), which a TAP user never wrote and
cannot act on. The SQLSTATE says what kind of mistake it was; the message is chosen from that
alone, so the same error always gets the same words.
"""

from __future__ import annotations

import psycopg

# SQLSTATE (exact, then its two-character class) -> what the user is told
BY_STATE = {
    "22012": "division by zero",
    "22003": "a number in the query is out of range of its type",
    "22P02": "a value in the query cannot be read as the type it is used as",
    "22007": "a date or time in the query is not a valid ISO 8601 value",
    "22008": "a date or time in the query is out of range",
    "2201E": "the logarithm of zero or of a negative number is undefined",
    "2201F": "a power of zero or of a negative number is undefined here",
    "22023": "a function was given an argument outside its domain",
    "42883": "a function or operator is applied to arguments of types it does not take",
    "42804": "the types of the two sides of a comparison or of a CASE do not match",
    "42725": "a function call is ambiguous: cast its arguments",
    "42803": "a column must appear in GROUP BY or be used in an aggregate function",
    "42P10": "ORDER BY of a UNION may only name its result columns",
    "42601": "the query has a syntax error",
    "42702": "a column name is ambiguous: qualify it with its table",
    "42703": "the query names a column that does not exist",
    "42P01": "the query names a table that does not exist",
    "42501": "the query reads something that is not published",
    "54000": "the query is too large for the database (too many columns or too deep)",
    "54001": "the query is nested too deeply",
    "54011": "the query has too many columns",
    "54023": "a function has too many arguments",
    "53": "the server is short of resources: try again later",
    "22": "a value in the query is not valid for the operation it is used in",
    "42": "the query cannot be run as written",
}
# Refusals the adql.* functions of sql/60_adql.sql raise in ADQL's words (a DALI string that is
# not a point, a polygon with too few corners): their message is the user's, told as it is
ADQL_FUNCTION_STATE = "22AD0"


def database_message(exc: psycopg.Error, timeout_seconds: int | None = None,
                     asynchronous: bool = False) -> str:
    """What a user can act on, without the database's internals."""
    if isinstance(exc, psycopg.errors.QueryCanceled):
        if not timeout_seconds:
            return "the query was stopped before it finished"
        advice = ("narrow it down, or give the job a longer EXECUTIONDURATION" if asynchronous
                  else "use /tap/async for long queries, or narrow it down")
        return f"the query ran longer than {timeout_seconds} s and was stopped: {advice}"
    state = getattr(exc, "sqlstate", None) or ""
    if state == ADQL_FUNCTION_STATE and exc.diag.message_primary:
        return exc.diag.message_primary
    message = BY_STATE.get(state) or BY_STATE.get(state[:2])
    if message is None:
        return "the query could not be run (the database failed it; the service has logged why)"
    return message


def is_overload(exc: psycopg.Error) -> bool:
    """Errors that say the server is busy, not that the query is wrong (503, not 400)."""
    state = getattr(exc, "sqlstate", None) or ""
    return state.startswith("53") or isinstance(exc, psycopg.errors.TooManyConnections)
