"""ADQL 2.1 as a sqlglot dialect: what ADQL's grammar differs in from sqlglot's generic SQL.

Only parsing is ADQL's: the translator (translate.py) rewrites the tree and writes it out with
sqlglot's PostgreSQL generator. The differences from generic SQL:

- `SELECT TOP n` (sqlglot's parser knows TOP once the tokenizer does);
- `^` is bitwise XOR (generic SQL reads it so too; PostgreSQL would read a power);
- LOG is the natural logarithm and LOG10 the decimal one; TRUNCATE(x, n) truncates;
  RAND(seed) is a random number;
- no PostgreSQL-only syntax: `::` casts, `$$` strings and the like are not ADQL.
"""

from __future__ import annotations

from sqlglot import exp, parser, tokens
from sqlglot.dialects.dialect import Dialect
from sqlglot.helper import seq_get
from sqlglot.tokens import TokenType


def _log(args: list) -> exp.Expr:
    if len(args) == 1:
        return exp.Ln(this=args[0])
    return exp.Log(this=args[0], expression=args[1])


class ADQL(Dialect):
    """ADQL 2.1 (IVOA Recommendation 2023-12-15), parsing only."""

    # as PostgreSQL: then sqlglot adds no NULLS FIRST/LAST, which would defeat index scans
    NULL_ORDERING = "nulls_are_large"
    # integer / integer is an integer, as in PostgreSQL (sqlglot would otherwise cast to float)
    TYPED_DIVISION = True

    class Tokenizer(tokens.Tokenizer):
        # (INTERVAL is no ADQL keyword: INTERVAL(lower, upper) is CADC's function of intervals)
        KEYWORDS = {**{k: v for k, v in tokens.Tokenizer.KEYWORDS.items() if k != "INTERVAL"},
                    "TOP": TokenType.TOP}
        # ADQL's string literals are single-quoted only, identifiers double-quoted
        QUOTES = ["'"]
        IDENTIFIERS = ['"']
        # ADQL 2.1 section 2.1.5: hexadecimal integers, 0x1F (the translator makes them numbers)
        HEX_STRINGS = [("0x", ""), ("0X", "")]

    class Parser(parser.Parser):
        FUNCTIONS = {
            **parser.Parser.FUNCTIONS,
            "LOG": _log,
            # PostgreSQL's one-argument log() of a double is the decimal logarithm
            "LOG10": lambda args: exp.Anonymous(this="LOG", expressions=args[:1]),
            "TRUNCATE": lambda args: exp.Anonymous(this="adql.truncate", expressions=args),
            "ROUND": lambda args: exp.Anonymous(this="adql.round", expressions=args)
            if len(args) == 2 else exp.Round(this=seq_get(args, 0)),
            "RAND": lambda args: exp.Rand(this=seq_get(args, 0)),
            "INTERVAL": lambda args: exp.Anonymous(this="INTERVAL", expressions=args),
        }
