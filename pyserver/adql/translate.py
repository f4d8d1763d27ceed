"""ADQL 2.1 -> PostgreSQL + pgsphere.

translate(query, catalog) parses ADQL (dialect.py), refuses anything that is not a query made of
ADQL's grammar and functions, resolves every table and column against TAP_SCHEMA (an unknown
name is an error with its line and column), rewrites the geometry into the adql.* functions and
pgsphere operators of sql/60_adql.sql, and writes PostgreSQL with sqlglot's generator.

Safety does not rest on this module alone (the TAP service runs queries read-only, as a role
that reads only what TAP_SCHEMA publishes, under a statement timeout), but nothing leaves it that
names a table outside TAP_SCHEMA or calls a function outside ADQL.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import OptimizeError, ParseError, SqlglotError, TokenError
from sqlglot.generators.postgres import PostgresGenerator
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.tokens import TokenType

from .catalog import Catalog, Column, Table
from .dialect import ADQL
from .errors import AdqlError, position as _position
from .kinds import CAST_KINDS, NAMES, check_conditions, check_kinds, kind_of, unit_of

DIALECT = ADQL()


class SphereContainedBy(exp.Expression, exp.Binary, exp.Predicate):
    """pgsphere's <@: the left geometry lies inside the right one (ADQL CONTAINS)."""


class SphereOverlaps(exp.Expression, exp.Binary, exp.Predicate):
    """pgsphere's &&: the geometries share a point (ADQL INTERSECTS)."""


class _Target(Postgres):
    class Generator(PostgresGenerator):
        TRANSFORMS = {
            **PostgresGenerator.TRANSFORMS,
            SphereContainedBy: lambda self, e: self.binary(e, "<@"),
            SphereOverlaps: lambda self, e: self.binary(e, "&&"),
        }


TARGET = _Target()
PREDICATES = (SphereContainedBy, SphereOverlaps)

# the grammar a query may use; anything else sqlglot can parse is not ADQL
ALLOWED_NODES = (
    exp.Select, exp.Union, exp.Except, exp.Intersect, exp.From, exp.Join, exp.Where, exp.Group,
    exp.Having, exp.Order, exp.Ordered, exp.Limit, exp.Offset, exp.Column, exp.Identifier,
    exp.Table, exp.TableAlias, exp.Alias, exp.Star, exp.Literal, exp.Null, exp.Boolean,
    exp.Paren, exp.Neg, exp.Not, exp.And, exp.Or, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT,
    exp.LTE, exp.Is, exp.Like, exp.ILike, exp.In, exp.Between, exp.Exists, exp.Subquery,
    exp.With, exp.CTE, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.DPipe, exp.BitwiseAnd,
    exp.HexString,
    exp.BitwiseOr, exp.BitwiseXor, exp.BitwiseNot, exp.Cast, exp.DataType, exp.Case, exp.If,
    exp.Distinct, exp.Tuple, exp.Coalesce, exp.Abs, exp.Ceil, exp.Exp, exp.Floor, exp.Ln,
    exp.Log, exp.Pow, exp.Sqrt, exp.Rand, exp.Round, exp.Lower, exp.Upper, exp.Count, exp.Avg,
    exp.Max, exp.Min, exp.Sum, exp.Contains, exp.Anonymous, exp.Var,
) + tuple(getattr(exp, name) for name in (  # the trigonometry sqlglot types (versions differ)
    "Pi", "Sin", "Cos", "Tan", "Cot", "Asin", "Acos", "Atan", "Atan2", "Degrees", "Radians",
    "Sign", "DataTypeParam") if hasattr(exp, name))
# functions sqlglot does not type, by name
ANONYMOUS_FUNCTIONS = {
    "DEGREES", "RADIANS", "PI", "ACOS", "ASIN", "ATAN", "ATAN2", "COS", "COT", "SIN", "TAN",
    "ADQL.TRUNCATE", "ADQL.ROUND", "LOG", "SIGN", "POINT", "CIRCLE", "POLYGON", "BOX", "REGION",
    "CONTAINS", "INTERSECTS", "DISTANCE", "AREA", "CENTROID", "COORD1", "COORD2", "COORDSYS",
    "IN_UNIT", "INTERVAL",
}
# ADQL 2.1 section 2.7 CAST targets
CAST_TYPES = {
    exp.DataType.Type.CHAR, exp.DataType.Type.VARCHAR, exp.DataType.Type.SMALLINT,
    exp.DataType.Type.INT, exp.DataType.Type.BIGINT, exp.DataType.Type.FLOAT,
    exp.DataType.Type.DOUBLE, exp.DataType.Type.TIMESTAMP,
}
# CAOM shape columns published with their DALI xtype but stored as arrays of numbers (the form
# CAOM XML gives), and the pgsphere column that geometry functions read instead (CADC's TAP
# service accepts INTERSECTS(CIRCLE(...), position_bounds), and clients rely on it)
QUERY_GEOMETRY = {("caom2", "plane", "position_bounds"): "position_bounds_spoly"}
# ObsCore's s_ra and s_dec are the degrees of a pgsphere point that has a GiST index:
# POINT(s_ra, s_dec) reads that point instead, so that CONTAINS, INTERSECTS and DISTANCE
# bounds on it use the index (the values are the same; the index is only on the point)
INDEXED_POINTS = {("ivoa", "obscore"): ("s_ra", "s_dec", "position_bounds_center")}
INDEXED_POINT_COLUMNS = {point for _, _, point in INDEXED_POINTS.values()}
GEOMETRY_FUNCTIONS = {"CONTAINS", "INTERSECTS", "AREA", "CENTROID", "COORD1", "COORD2",
                      "DISTANCE"}
# sqlglot's parse errors that say what was expected in words a user wrote ("Expecting )")
PLAIN_EXPECTATION = re.compile(r"^Expect(ing|ed) [A-Za-z()',. ]{1,40}$")
# deeper nesting than any real query needs; the parser and PostgreSQL would recurse for it
MAX_NESTING = 32
# PostgreSQL syntax the tokenizer knows and ADQL does not have, with what to write instead
FORBIDDEN_TOKENS = {TokenType.DCOLON: "'::' casts are PostgreSQL, not ADQL: use CAST(x AS type)",
                    TokenType.LIMIT: "LIMIT is not ADQL: use SELECT TOP n (and OFFSET m); a "
                                     "client's MAXREC limits the rows too"}


@dataclass
class OutputColumn:
    """A column of the result: its name, and its TAP_SCHEMA description when it is a column."""

    name: str
    source: Column | None = None


@dataclass
class Translation:
    """The PostgreSQL of an ADQL query, and what its result columns are."""

    sql: str
    columns: list[OutputColumn] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    # the table whose rows, whole, are the result: the query selects every published column
    # of that one table, in order and under its own names (SELECT * FROM t WHERE ...)
    whole_rows_of: Table | None = None
    # the result is an aggregate's (COUNT(*), GROUP BY, ...): one row per group, not per row read
    aggregated: bool = False
    _tree: exp.Expr | None = field(default=None, repr=False, compare=False)

    def with_columns(self, sql_names: list[str]) -> str:
        """The query's PostgreSQL with these further columns of `whole_rows_of` at the end of
        its select list (columns TAP_SCHEMA does not publish: a row's stored serialisations).
        Its ORDER BY, ordinals included, and its LIMIT stay as they were."""
        if self.whole_rows_of is None or self._tree is None:
            raise ValueError("the query does not select whole rows of one table")
        tree = self._tree.copy()
        alias = tree.args["from_"].this.alias_or_name
        tree.set("expressions", tree.expressions + [exp.column(name, table=alias, quoted=True)
                                                    for name in sql_names])
        return tree.sql(dialect=TARGET, comments=False)


def translate(query: str, catalog: Catalog) -> Translation:
    """The PostgreSQL of an ADQL query; AdqlError when it is not a valid ADQL query here."""
    try:
        return _translate(query, catalog)
    except RecursionError:
        raise AdqlError("the query is nested too deeply to be read") from None
    except SqlglotError:  # a form the checks above did not foresee: no parser internals out
        raise AdqlError("the query cannot be read as ADQL") from None


def _translate(query: str, catalog: Catalog) -> Translation:
    tree = _parse(query)
    _join_continued_strings(tree)
    _check_grammar(tree)
    _check_distinct_names(tree)
    tables = _resolve_names(tree, catalog)
    lookup = lambda column: _column_of(column, tables)  # noqa: E731 (a published column, or None)
    _natural_joins_as_using(tree, catalog)
    check_kinds(tree, lookup)
    check_conditions(tree, lookup)
    _expand_stars(tree, catalog)
    _check_set_operations(tree, lookup)
    columns = _output_columns(tree, tables)
    whole_rows_of = _whole_rows_of(tree, tables)
    _rewrite_units(tree, tables)
    _rewrite_intervals(tree, lookup)
    tree = _rewrite_geometry(tree)
    for hexadecimal in list(tree.find_all(exp.HexString)):  # 0x1F is the integer 31
        hexadecimal.replace(exp.Literal.number(int(hexadecimal.this, 16)))
    for mod in list(tree.find_all(exp.Mod)):  # MOD of any numeric type (PostgreSQL's % is not)
        mod.replace(_call("mod", mod.this, mod.expression))
    for call in list(tree.find_all(exp.Rand)):  # RAND(seed): PostgreSQL's random() has none
        if call.this is not None:
            call.replace(_call("rand", exp.cast(call.this, exp.DataType.build("double"))))
    normalize_identifiers(tree, dialect=TARGET)
    # comments are dropped: they have no meaning, and nothing of the user's text should
    # reach the database that the translator has not read
    return Translation(tree.sql(dialect=TARGET, comments=False), columns, list(tables.values()),
                       whole_rows_of, _aggregated(tree), tree)


def _parse(query: str) -> exp.Expr:
    try:
        tokens = DIALECT.tokenize(query)
    except TokenError:
        if query.count("'") % 2 or query.count('"') % 2:
            raise AdqlError("cannot read the query: a quoted string or name is not closed") from None
        raise AdqlError("cannot read the query: it holds characters ADQL does not have") from None
    depth = 0
    for i, token in enumerate(tokens):
        depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(token.token_type, 0)
        if depth > MAX_NESTING:
            raise AdqlError(f"the query nests parentheses more than {MAX_NESTING} deep",
                            token.line, token.col - len(token.text) + 1)
        if token.token_type in FORBIDDEN_TOKENS:
            raise AdqlError(FORBIDDEN_TOKENS[token.token_type], token.line,
                            token.col - len(token.text) + 1)
        following = tokens[i + 1].token_type if i + 1 < len(tokens) else None
        if token.token_type == TokenType.EQ and token.text == "==":
            raise AdqlError("'==' is not ADQL: compare with '='", token.line,
                            token.col - len(token.text) + 1)
        if token.text.upper() == "FLOAT" and i and tokens[i - 1].token_type == TokenType.ALIAS:
            raise AdqlError("CAST to FLOAT is not ADQL: use REAL or DOUBLE PRECISION",
                            token.line, token.col - len(token.text) + 1)
        if token.token_type == TokenType.JOIN and not _join_is_qualified(tokens, i):
            raise AdqlError("a JOIN needs ON or USING (or is NATURAL or CROSS)", token.line,
                            token.col - len(token.text) + 1)
        if token.token_type == TokenType.COMMA and following in (
                None, TokenType.FROM, TokenType.R_PAREN, TokenType.SEMICOLON, TokenType.COMMA):
            raise AdqlError("a list may not end with a comma, nor hold an empty item",
                            token.line, token.col)
        if token.token_type == TokenType.SEMICOLON and i != len(tokens) - 1:
            raise AdqlError("one query only: ';' may only end it", token.line,
                            token.col - len(token.text) + 1)
    try:
        trees = DIALECT.parser().parse(tokens, query)
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        raise AdqlError(_syntax_message(first), first.get("line"), first.get("col")) from None
    trees = [t for t in trees if t is not None]
    if len(trees) != 1:
        raise AdqlError("the query is empty" if not trees else "one query only")
    tree = trees[0]
    if not isinstance(tree, (exp.Select, exp.SetOperation)):
        raise AdqlError(f"only SELECT queries are allowed, not {tree.key.upper()}")
    return tree


def _join_is_qualified(tokens: list, at: int) -> bool:
    """Whether the JOIN at tokens[at] is NATURAL or CROSS, or has ON or USING after its table
    (a comma join needs neither; sqlglot's tree no longer tells a bare JOIN from it)."""
    before = {t.token_type for t in tokens[max(0, at - 3):at]}
    if TokenType.NATURAL in before or TokenType.CROSS in before:
        return True
    i, depth = at + 1, 0
    while i < len(tokens):  # the joined table: a name, or a parenthesised derived table
        kind = tokens[i].token_type
        depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(kind, 0)
        i += 1
        if depth == 0 and (i >= len(tokens) or tokens[i].token_type != TokenType.DOT) \
                and kind != TokenType.DOT:
            break
    if i < len(tokens) and tokens[i].token_type == TokenType.ALIAS:
        i += 1
    if i < len(tokens) and tokens[i].token_type not in (TokenType.ON, TokenType.USING):
        i += 1  # the correlation name
    return i < len(tokens) and tokens[i].token_type in (TokenType.ON, TokenType.USING)


def _syntax_message(error: dict) -> str:
    """A parse error in ADQL's terms: what was expected when sqlglot says it plainly, else where
    reading stopped (sqlglot's other descriptions name its own classes)."""
    description = str(error.get("description") or "")
    near = (error.get("highlight") or "").strip()
    if PLAIN_EXPECTATION.match(description):
        return f"syntax error: {description.lower()}" + (f" near {near!r}" if near else "")
    if near:
        return f"syntax error near {near!r}"
    return "syntax error: the query ends before it is complete"


def _join_continued_strings(tree: exp.Expr) -> None:
    """A string literal continued after a separator ('qua' -- a comment, a new line -- 'tsch')
    is one literal in ADQL 2.1's grammar, as in SQL's: 'quatsch'. (sqlglot reads adjacent
    literals as a CONCAT that no one wrote; the CONCAT function, which is not ADQL, it marks
    safe.)"""
    for concat in list(tree.find_all(exp.Concat)):
        parts = concat.expressions
        if not concat.args.get("safe") and parts and all(
                isinstance(p, exp.Literal) and p.is_string for p in parts):
            concat.replace(exp.Literal.string("".join(p.this for p in parts)))


def _check_grammar(tree: exp.Expr) -> None:
    for node in tree.walk():
        _check_form(node, tree)
        if not isinstance(node, ALLOWED_NODES):
            raise AdqlError(f"{node.key.upper()} is not part of ADQL", *_position(node))
        if isinstance(node, exp.Anonymous) and node.name.upper() not in ANONYMOUS_FUNCTIONS:
            raise AdqlError(f"unknown function {node.name}", *_position(node))
        if isinstance(node, exp.Cast) and node.to.this not in CAST_TYPES and not (
                node.to.this == exp.DataType.Type.USERDEFINED
                and str(node.to.args.get("kind")).lower() in CAST_KINDS):
            raise AdqlError(f"CAST to {node.to.sql()} is not ADQL", *_position(node))


def _parenthesised_join(node: exp.Subquery) -> bool:
    """Whether a parenthesised FROM item is a joined table (not a query)."""
    inner = _unparenthesised(node)
    return isinstance(inner, exp.Table) and bool(inner.args.get("joins"))


def _check_form(node: exp.Expr, tree: exp.Expr) -> None:
    """ADQL 2.1's grammar where sqlglot's is more lenient."""
    if isinstance(node, exp.Select) and not node.args.get("from_"):
        raise AdqlError("a SELECT needs a FROM clause in ADQL", *_position(node))
    if isinstance(node, exp.Select) and not node.expressions:
        raise AdqlError("a SELECT needs something to select: columns, expressions or *",
                        *_position(node))
    if isinstance(node, exp.With) and node.parent is not tree:
        raise AdqlError("WITH may only begin the query, not a subquery", *_position(node))
    # (a parenthesised join, ADQL's <left_paren> <joined_table> <right_paren>, is a subquery
    # of a table and its joins to sqlglot: it has no correlation name)
    if isinstance(node, exp.Subquery) and isinstance(node.parent, (exp.From, exp.Join)) \
            and not node.alias and not _parenthesised_join(node):
        raise AdqlError("a subquery in FROM needs a correlation name: (SELECT ...) AS t",
                        *_position(node))
    if isinstance(node, exp.In) and node.args.get("field") is not None:
        raise AdqlError("IN takes a list in parentheses, IN (1, 2), or a subquery",
                        *_position(node.args["field"]))
    if isinstance(node, exp.Is) and not isinstance(node.expression, exp.Null):
        raise AdqlError("IS may only be followed by NULL or NOT NULL", *_position(node))
    if isinstance(node, exp.Offset) and not (
            isinstance(node.expression, exp.Literal) and node.expression.is_int):
        raise AdqlError("OFFSET takes an unsigned integer", *_position(node))
    if isinstance(node, exp.Identifier) and not node.quoted and node.name.startswith("_"):
        raise AdqlError(f"{node.name}: an ADQL name starts with a letter (or is quoted)",
                        *_position(node))
    if _is_predicate(node):
        parent = node.parent
        while isinstance(parent, exp.Paren):
            parent = parent.parent
        if isinstance(parent, (exp.Where, exp.Having, exp.And, exp.Or, exp.Not, exp.Join)):
            raise AdqlError(f"{node.name.upper() if isinstance(node, exp.Anonymous) else 'CONTAINS'}"
                            " is a number in ADQL: compare it with 0 or 1, as in "
                            "1 = CONTAINS(...)", *_position(node))


def _is_predicate(node: exp.Expr) -> bool:
    return isinstance(node, exp.Contains) or (
        isinstance(node, exp.Anonymous) and node.name.upper() in ("CONTAINS", "INTERSECTS"))


def _resolve_names(tree: exp.Expr, catalog: Catalog) -> dict[str, Table]:
    """Check every table and column against the catalog, scope by scope, and rename them to
    PostgreSQL's names. A table reference is a CTE only where that CTE is in scope; anything
    else must be a published table (a CTE named like a system catalog, defined in one derived
    table, does not make `pg_settings` readable from another). Every column must be found: in
    a published table, a derived table's or CTE's select list, the select list's aliases, or an
    enclosing query's tables (a correlated subquery). Returns the catalog tables the query
    reads, by the (lower-cased) name it calls them."""
    sources: dict[str, Table] = {}
    for scope in _scopes(tree):
        for table in scope.tables:
            if not table.db and isinstance(_source_of(scope, table.name), Scope):
                continue  # a CTE of this scope or an enclosing one
            sources.update(_resolve_table(table, catalog))
    for scope in _scopes(tree):  # again: the tables' aliases are the scopes' source names now
        aliases = {a.alias.lower() for a in scope.expression.find_all(exp.Alias)} \
            if isinstance(scope.expression, exp.Select) else set()
        for column in scope.columns:
            # sqlglot lists a subquery's unqualified columns in its parent too: each is
            # resolved once, in the query it stands in
            if isinstance(column.this, exp.Star) or (
                    isinstance(scope.expression, exp.Select)
                    and column.find_ancestor(exp.Select) is not scope.expression):
                continue
            _resolve_column(column, scope, catalog, aliases)
    return sources


def _in_order(names: set[str], shown: "StarColumns | None") -> list[str]:
    """Column names in the order SELECT * shows them (where known; else by name)."""
    order = list(dict.fromkeys(name for name, _ in shown or [] if name in names))
    return order + sorted(names - set(order))


def _check_distinct_names(tree: exp.Expr) -> None:
    """Each item of a FROM clause has a name of its own (a table's, or its correlation name):
    a table named twice needs one for each (ivoa.ObsCore AS a, ivoa.ObsCore AS b)."""
    for select in tree.find_all(exp.Select):
        if not select.args.get("from_"):
            continue
        seen: set[str] = set()
        for item in _from_items(select):
            name = item.alias_or_name.lower()
            if name and name in seen:
                if item.alias or not isinstance(item, exp.Table):
                    message = (f"{item.alias_or_name} names two items of FROM: give each its own "
                               "correlation name")
                else:
                    table = item.sql(dialect=DIALECT)
                    message = (f"{table} is named twice in FROM: give each its own correlation "
                               f"name, as in {table} AS a, {table} AS b")
                raise AdqlError(message, *_position(item))
            seen.add(name)


def _natural_joins_as_using(tree: exp.Expr, catalog: Catalog) -> None:
    """A NATURAL JOIN joins on the columns its two sides publish under one name (ADQL 2.1
    section 2.2.1): written out as USING (those columns), or CROSS JOIN where there are none.
    PostgreSQL's would join on every column the relations share, published or not (ObsCore's
    view keeps columns for access control that TAP does not show, and may not read)."""
    for scope in _scopes(tree):
        if not isinstance(scope.expression, exp.Select) or not scope.expression.args.get("from_"):
            continue
        # (the innermost first: a NATURAL join in parentheses is USING when the join around
        # it takes its columns)
        for first, joins in reversed(_join_chains(scope.expression)):
            if not any(join.args.get("method") == "NATURAL" for join in joins):
                continue
            before = _in_order(_chain_start_columns(scope, first, joins, catalog),
                               _chain_start_star(first, joins, catalog))
            for join in joins:
                joined = _in_order(_item_columns(scope, join.this, catalog),
                                   _item_star(join.this, catalog))
                if join.args.get("method") == "NATURAL":
                    # (in the left side's order: SELECT * shows them so)
                    common = [name for name in before if name in joined]
                    join.set("method", None)
                    if common:
                        join.set("using", [exp.to_identifier(name) for name in common])
                    else:
                        join.set("kind", "CROSS")
                before += [name for name in joined if name not in before]


def _scopes(tree: exp.Expr) -> list[Scope]:
    try:
        return traverse_scope(tree)
    except OptimizeError as exc:  # e.g. a source named twice in one FROM
        raise AdqlError(_plain(str(exc))) from None


def _plain(message: str) -> str:
    return message.split(". Line")[0].rstrip(".")


def _source_of(scope: Scope, name: str) -> exp.Table | Scope | None:
    """What `name` refers to as a source in this scope or an enclosing one (case-insensitive)."""
    while scope is not None:
        for key, source in scope.sources.items():
            if key.lower() == name.lower():
                return source
        scope = scope.parent
    return None


def _resolve_table(table: exp.Table, catalog: Catalog) -> dict[str, Table]:
    if table.args.get("catalog"):
        raise AdqlError(f"unknown table {table.sql()}: catalog-qualified names are not "
                        "published here", *_position(table))
    found = catalog.find(table.name, table.db)
    if found is None:
        name = f"{table.db}.{table.name}" if table.db else table.name
        hint = _suggest(name, [t.published for t in catalog.tables.values()])
        raise AdqlError(f"unknown table {name}{hint}", *_position(table))
    alias = table.alias or found.sql_name
    table.set("this", exp.to_identifier(found.sql_name))
    table.set("db", exp.to_identifier(found.schema))
    if not table.alias:
        table.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    return {alias.lower(): found, found.published.lower(): found}


def _resolve_column(column: exp.Column, scope: Scope, catalog: Catalog, aliases: set[str]) -> None:
    """Find the column's source (see _resolve_names); catalog columns get PostgreSQL's name."""
    name = column.name.lower()
    qualifier = column.table
    if qualifier:
        source, inner = _qualified_source(column, scope)
        if source is None:
            named = ".".join(p for p in (column.db, qualifier) if p)
            raise AdqlError(f"unknown table {named} in {column.sql(dialect=DIALECT)}: no table "
                            "of the FROM clause is called so", *_position(column))
        if column.db:  # ivoa.ObsCore.s_ra: the table is named by its alias now
            column.set("db", None)
            column.set("table", exp.to_identifier(inner.alias_or_name))
        _check_column_of(column, source, catalog)
        return
    current = scope
    while current is not None:
        owners = [s for s in _distinct_sources(current) if _has_column(s, name, catalog)]
        if len(owners) > 1 and name in _joined_columns(current, catalog):
            owners = owners[:1]  # USING (name) or NATURAL JOIN made the sources' columns one
        if len(owners) > 1:
            raise AdqlError(f"column {column.name} is ambiguous: qualify it with its table",
                            *_position(column))
        if owners:
            _check_column_of(column, owners[0], catalog)
            return
        if current is scope and name in aliases:
            return
        current = _enclosing(current)
    known = sorted({c for s in _distinct_sources(scope) for c in _column_names(s, catalog)})
    raise AdqlError(f"unknown column {column.name}{_suggest(name, known)}", *_position(column))


def _joined_columns(scope: Scope, catalog: Catalog) -> set[str]:
    """The (lower-case) names a scope's USING and NATURAL joins merge into one column."""
    select = scope.expression
    if not isinstance(select, exp.Select) or not select.args.get("from_"):
        return set()
    merged: set[str] = set()
    for first, joins in _join_chains(select):
        before = _chain_start_columns(scope, first, joins, catalog)
        for join in joins:
            joined = _item_columns(scope, join.this, catalog)
            merged |= {u.name.lower() for u in join.args.get("using") or []}
            if join.args.get("method") == "NATURAL":
                merged |= before & joined
            before |= joined
    return merged


def _unparenthesised(item: exp.Expr) -> exp.Expr:
    """A FROM item without the parentheses of a joined table, (a JOIN b ...)."""
    while isinstance(item, exp.Subquery) and not item.alias:
        item = item.this
    return item


def _from_items(select: exp.Select):
    """The items of a FROM clause, outermost first, those of its parenthesised joined tables
    included (sqlglot reads (a JOIN b) as a table a with joins, in parentheses)."""
    items = [select.args["from_"].this] + [j.this for j in select.args.get("joins") or []]
    while items:
        item = _unparenthesised(items.pop(0))
        if isinstance(item, exp.Table) and item.args.get("joins"):
            items.extend(j.this for j in item.args["joins"])
        yield item


def _join_chains(select: exp.Select) -> list[tuple[exp.Expr, list[exp.Join]]]:
    """Each run of joins in a FROM clause, with the item it starts from: the clause's own, then
    those of the parenthesised joined tables in it, outermost first."""
    chains = [(select.args["from_"].this, select.args["joins"])] if select.args.get("joins") else []
    return chains + [(item, item.args["joins"]) for item in _from_items(select)
                     if isinstance(item, exp.Table) and item.args.get("joins")]


def _hangs_joins(first: exp.Expr, joins: list[exp.Join]) -> bool:
    """Whether `first` is the table sqlglot hangs these joins on (inside parentheses)."""
    return isinstance(first, exp.Table) and first.args.get("joins") is joins


def _chain_start_columns(scope: Scope, first: exp.Expr, joins: list[exp.Join],
                         catalog: Catalog) -> set[str]:
    """The columns a run of joins starts from: those of its first item alone."""
    if _hangs_joins(first, joins):
        return _source_columns(scope, first, catalog)
    return _item_columns(scope, first, catalog)


def _chain_start_star(first: exp.Expr, joins: list[exp.Join], catalog: Catalog) -> "StarColumns | None":
    """_chain_start_columns in the order SELECT * shows them."""
    return _table_star(first, catalog) if _hangs_joins(first, joins) else _item_star(first, catalog)


def _item_columns(scope: Scope, item: exp.Expr, catalog: Catalog) -> set[str]:
    """The columns of a FROM item: a table's or a derived table's, or all those of a
    parenthesised joined table's tables."""
    item = _unparenthesised(item)
    columns = _source_columns(scope, item, catalog)
    if isinstance(item, exp.Table):
        for join in item.args.get("joins") or []:
            columns |= _item_columns(scope, join.this, catalog)
    return columns


def _source_columns(scope: Scope, item: exp.Expr, catalog: Catalog) -> set[str]:
    found = scope.selected_sources.get(item.alias_or_name) or next(
        (v for k, v in scope.selected_sources.items() if k.lower() == item.alias_or_name.lower()),
        None)
    return {n.lower() for n in _column_names(found[1], catalog)} if found else set()


def _distinct_sources(scope: Scope) -> list[exp.Table | Scope]:
    """The sources a scope's FROM clause selects from (each once)."""
    return [source for _, source in scope.selected_sources.values()]


def _enclosing(scope: Scope) -> Scope | None:
    """The query whose tables a subquery may name (a correlated subquery); derived tables and
    CTEs see only their own FROM clause."""
    return scope.parent if scope.is_subquery else None


def _qualified_source(column: exp.Column, scope: Scope) -> tuple[exp.Table | Scope | None,
                                                                  exp.Table | None]:
    """The source that a column's qualifier (`t.` or `schema.t.`) names, here or in an
    enclosing query, and the FROM item that brings it."""
    qualifier, schema = column.table.lower(), column.db.lower()
    current = scope
    while current is not None:
        for key, (node, source) in current.selected_sources.items():
            if key.lower() != qualifier:
                continue
            if schema and not (isinstance(source, exp.Table) and source.db.lower() == schema):
                continue
            return source, node
        current = _enclosing(current)
    return None, None


def _catalog_table(source: exp.Table, catalog: Catalog) -> Table | None:
    return catalog.tables.get(f"{source.db}.{source.name}".lower()) or next(
        (t for t in catalog.tables.values()
         if (t.schema, t.sql_name) == (source.db.lower(), source.name.lower())), None)


def _column_names(source: exp.Table | Scope, catalog: Catalog) -> list[str]:
    """The names a source offers: a published table's columns, a subquery's select list."""
    if isinstance(source, exp.Table):
        table = _catalog_table(source, catalog)
        return [c.published.strip('"') for c in table.columns.values()] if table else []
    return _output_names(source, catalog) or []


def _output_names(scope: Scope, catalog: Catalog) -> list[str] | None:
    """The select-list names of a derived table or CTE (its `*` expanded)."""
    expression = scope.expression
    if isinstance(expression, exp.SetOperation):  # a UNION's names are its first branch's
        branches = scope.set_operation_scopes
        return _output_names(branches[0], catalog) if branches else None
    if not isinstance(expression, exp.Select):
        return None
    names: list[str] = []
    for projection in expression.expressions:
        if isinstance(projection, exp.Star):
            for source in _distinct_sources(scope):
                names += _column_names(source, catalog)
        elif isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
            found = scope.selected_sources.get(projection.table) or next(
                (v for k, v in scope.selected_sources.items()
                 if k.lower() == projection.table.lower()), None)
            if found:
                names += _column_names(found[1], catalog)
        else:
            names.append(projection.alias_or_name)
    return names


def _has_column(source: exp.Table | Scope, name: str, catalog: Catalog) -> bool:
    return name in {n.lower() for n in _column_names(source, catalog)}


def _check_column_of(column: exp.Column, source: exp.Table | Scope, catalog: Catalog) -> None:
    name = column.name.lower()
    known = _column_names(source, catalog)
    if name not in {n.lower() for n in known}:
        where = (_catalog_table(source, catalog).published if isinstance(source, exp.Table)
                 and _catalog_table(source, catalog) else column.table or "the subquery")
        raise AdqlError(f"{where} has no column {column.name}{_suggest(name, known)}",
                        *_position(column))
    if isinstance(source, exp.Table):
        table = _catalog_table(source, catalog)
        found = table.columns[name]
        sql_name = found.sql_name
        if _in_geometry_function(column):
            # a shape kept as an array of numbers is queried through its pgsphere column
            sql_name = QUERY_GEOMETRY.get((table.schema, table.sql_name, sql_name), sql_name)
        _rename(column, sql_name)


def _rename(column: exp.Column, name: str) -> None:
    """Give a column PostgreSQL's name, keeping where the user wrote it (for refusals)."""
    identifier = exp.to_identifier(name)
    identifier._meta = getattr(column.this, "_meta", None)
    column.set("this", identifier)


def _in_geometry_function(column: exp.Column) -> bool:
    """Whether a column is an argument of a geometry function or predicate."""
    parent = column.parent
    while isinstance(parent, exp.Paren):
        parent = parent.parent
    return isinstance(parent, exp.Contains) or (
        isinstance(parent, exp.Anonymous) and parent.name.upper() in GEOMETRY_FUNCTIONS)


def _expand_stars(tree: exp.Expr, catalog: Catalog) -> None:
    """`*` and `t.*` over published tables become their published columns: a table may hold
    columns TAP_SCHEMA does not publish (internal keys), and SELECT * must not show them. A
    column that USING (or NATURAL, written as USING) joins is shown once, first, as SQL says;
    a derived table or CTE keeps its own `q.*` (its select list is what it publishes)."""
    for select in tree.find_all(exp.Select):
        if not select.args.get("from_"):
            continue
        projections = []
        for projection in select.expressions:
            if isinstance(projection, exp.Star):
                expanded = _star_columns(select, catalog)
            elif isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
                expanded = _qualified_star_columns(select, projection.table, catalog)
            else:
                expanded = None
            projections += [column for _, column in expanded] if expanded is not None \
                else [projection]
        select.set("expressions", projections)


StarColumns = list[tuple[str, exp.Expr]]  # (lower-case name, what shows it), in order


def _star_columns(select: exp.Select, catalog: Catalog) -> StarColumns | None:
    """What `*` shows over a FROM clause, or None to leave it to PostgreSQL."""
    columns = _item_star(select.args["from_"].this, catalog)
    for join in select.args.get("joins") or []:
        columns = _joined_star(columns, join, catalog)
    return columns


def _qualified_star_columns(select: exp.Select, name: str, catalog: Catalog) -> StarColumns | None:
    """What `name.*` shows: the published columns of that table of the FROM clause."""
    for item in _from_items(select):
        if item.alias_or_name.lower() == name.lower():
            return _table_star(item, catalog) if isinstance(item, exp.Table) else None
    return None


def _item_star(item: exp.Expr, catalog: Catalog) -> StarColumns | None:
    item = _unparenthesised(item)
    if not isinstance(item, exp.Table):  # a derived table: its own select list
        return [("*", exp.Column(this=exp.Star(), table=exp.to_identifier(item.alias_or_name)))] \
            if item.alias_or_name else None
    columns = _table_star(item, catalog)
    for join in item.args.get("joins") or []:  # a joined table in parentheses
        columns = _joined_star(columns, join, catalog)
    return columns


def _table_star(table: exp.Table, catalog: Catalog) -> StarColumns:
    found = _catalog_table(table, catalog)
    if found is None:  # a CTE: its own select list
        return [("*", exp.Column(this=exp.Star(), table=exp.to_identifier(table.alias_or_name)))]
    return [(c.sql_name, exp.column(c.sql_name, table=table.alias_or_name))
            for c in found.columns.values()]


def _joined_star(left: StarColumns | None, join: exp.Join, catalog: Catalog) -> StarColumns | None:
    """The columns of a join: USING's columns once, first (the left side's, the right's for a
    RIGHT join, whichever is not null for a FULL one), then the others of each side."""
    right = _item_star(join.this, catalog)
    if left is None or right is None:
        return None
    using = [u.name.lower() for u in join.args.get("using") or []]
    if not using:
        return left + right
    names = [name for name, _ in left + right]
    if "*" in names:  # a derived table's columns are not known here
        return None
    merged = []
    for name in using:
        ours = next((c for n, c in left if n == name), None)
        theirs = next((c for n, c in right if n == name), None)
        if ours is None or theirs is None:
            return None
        side = str(join.args.get("side") or "").upper()
        shown = theirs if side == "RIGHT" else exp.alias_(
            exp.Coalesce(this=ours.copy(), expressions=[theirs.copy()]), name, quoted=True) \
            if side == "FULL" else ours
        merged.append((name, shown))
    return merged + [(n, c) for n, c in left if n not in using] + \
        [(n, c) for n, c in right if n not in using]


def _check_set_operations(tree: exp.Expr, lookup) -> None:
    """The queries a UNION, EXCEPT or INTERSECT joins have as many columns, each of one kind
    in all of them (PostgreSQL's refusal would call the first a syntax error)."""
    for operation in tree.find_all(exp.SetOperation):
        word = operation.key.upper()
        sides = [_first_select(operation.this), _first_select(operation.expression)]
        if None in sides or any(isinstance(p, exp.Star) or (
                isinstance(p, exp.Column) and isinstance(p.this, exp.Star))
                for side in sides for p in side.expressions):
            continue
        counts = [len(side.expressions) for side in sides]
        if counts[0] != counts[1]:
            raise AdqlError(f"{word}: the query before it has {counts[0]} column(s), the one "
                            f"after it {counts[1]}; each must have as many", *_position(sides[1]))
        for number, (ours, theirs) in enumerate(zip(*(side.expressions for side in sides)), 1):
            values = [p.this if isinstance(p, exp.Alias) else p for p in (ours, theirs)]
            kinds = [kind_of(value, lookup) for value in values]
            # (a literal takes the other side's type in PostgreSQL, as '1' a number's)
            if None not in kinds and kinds[0] != kinds[1] and not any(
                    isinstance(value, exp.Literal) for value in values):
                raise AdqlError(f"{word}: column {number} is {NAMES[kinds[0]]} in the query "
                                f"before it and {NAMES[kinds[1]]} in the one after it",
                                *_position(theirs))


def _first_select(node: exp.Expr) -> exp.Select | None:
    """The query whose columns a side of a set operation has (its first, for a nested one)."""
    while isinstance(node, (exp.Subquery, exp.SetOperation)):
        node = node.this
    return node if isinstance(node, exp.Select) else None


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name.lower(), [k.lower() for k in known], n=1)
    if not close:
        return ""
    return "; did you mean " + next(k for k in known if k.lower() == close[0]) + "?"


def _output_columns(tree: exp.Expr, sources: dict[str, Table]) -> list[OutputColumn]:
    """The result's columns, named as TAP_SCHEMA names them (the query's aliases win)."""
    select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
    out = []
    for projection in select.expressions:
        if isinstance(projection, exp.Column) and not isinstance(projection.this, exp.Star):
            found = _column_of(projection, sources)
            name = found.published.strip('"') if found else projection.name
            projection.replace(exp.alias_(projection.copy(), name, quoted=True))
            out.append(OutputColumn(name, found))
        elif _is_in_unit(projection) or (isinstance(projection, exp.Alias)
                                          and _is_in_unit(projection.this)):
            call = projection if _is_in_unit(projection) else projection.this
            value, unit = _in_unit_arguments(call)
            name = projection.alias if isinstance(projection, exp.Alias) else (
                value.name if isinstance(value, exp.Column) else "in_unit")
            if not isinstance(projection, exp.Alias):
                projection.replace(exp.alias_(projection.copy(), name, quoted=True))
            source = _column_of(value, sources) if isinstance(value, exp.Column) else None
            out.append(OutputColumn(name, Column(name, name.lower(), "double", unit=unit,
                                                 ucd=source.ucd if source else None)))
        elif isinstance(projection, exp.Alias):
            inner = projection.this
            found = _column_of(inner, sources) if isinstance(inner, exp.Column) else None
            out.append(OutputColumn(projection.alias, found))
        elif isinstance(projection, exp.Star) or isinstance(projection, exp.Column):
            out.append(OutputColumn("*"))
        else:
            out.append(OutputColumn(projection.sql(dialect=TARGET)))
    return out


def _aggregated(tree: exp.Expr) -> bool:
    """Is the outermost query a grouping (GROUP BY, or aggregates over its whole input)?"""
    if not isinstance(tree, exp.Select):
        return False
    if tree.args.get("group"):
        return True
    return any(isinstance(node, exp.AggFunc) and node.find_ancestor(exp.Select) is tree
               and not node.find_ancestor(exp.Window)
               for projection in tree.expressions for node in projection.find_all(exp.AggFunc))


def _whole_rows_of(tree: exp.Expr, sources: dict[str, Table]) -> Table | None:
    """The one published table whose rows, whole, the query returns (every published column in
    TAP_SCHEMA's order, each under its own name, from that table alone, with no DISTINCT or
    grouping), else None."""
    if not isinstance(tree, exp.Select) or tree.args.get("joins") or tree.args.get("with_") \
            or any(tree.args.get(k) for k in ("distinct", "group", "having", "windows")):
        table = None
    else:
        table = tree.args.get("from_") and tree.args["from_"].this
    if not isinstance(table, exp.Table) or not table.db:
        return None
    found = sources.get(table.alias_or_name.lower())
    if found is None:
        return None
    wanted = [(c.sql_name, c.published.strip('"')) for c in found.columns.values()]
    given = [(p.this.name, p.alias) for p in tree.expressions
             if isinstance(p, exp.Alias) and isinstance(p.this, exp.Column)
             and p.this.table == table.alias_or_name]
    return found if given == wanted and len(tree.expressions) == len(wanted) else None


# ---------------------------------------------------------------------------------------------
# IN_UNIT (ADQL 2.1 section 2.4.1): a column's value in another unit, by a factor astropy finds
# ---------------------------------------------------------------------------------------------

def _is_in_unit(node: exp.Expr) -> bool:
    return isinstance(node, exp.Anonymous) and node.name.upper() == "IN_UNIT"


def _in_unit_arguments(call: exp.Anonymous) -> tuple[exp.Expr, str]:
    """The value and the target unit of IN_UNIT(value, 'unit')."""
    args = list(call.expressions)
    if len(args) != 2 or (isinstance(args[0], exp.Literal) and args[0].is_string) or not (
            isinstance(args[1], exp.Literal) and args[1].is_string):
        raise AdqlError("IN_UNIT takes a number with a unit and a unit string, as in "
                        "IN_UNIT(t_exptime, 'h')", *_position(call))
    return args[0], args[1].name


def _unit_factor(call: exp.Anonymous, sources: dict[str, Table]) -> float:
    """What the value of IN_UNIT(value, 'unit') is multiplied by: the value's unit is its
    column's, carried through arithmetic (kinds.unit_of)."""
    from astropy import units

    value, target = _in_unit_arguments(call)
    source_unit = unit_of(value, lambda column: _column_of(column, sources), call)
    described = value.sql(dialect=DIALECT)
    if source_unit is None:
        raise AdqlError(f"IN_UNIT: {described} has no unit to convert from", *_position(call))
    try:
        target_unit = units.Unit(target, format="vounit")
    except ValueError:
        raise AdqlError(f"IN_UNIT: {target!r} is not a VOUnit", *_position(call)) from None
    try:
        return float(source_unit.to(target_unit))
    except units.UnitConversionError:
        shown = source_unit.to_string(format="vounit") or "a pure number"
        raise AdqlError(f"IN_UNIT: {described} is in {shown}, which cannot be converted "
                        f"to {target}", *_position(call)) from None


def _rewrite_units(tree: exp.Expr, sources: dict[str, Table]) -> None:
    for call in [n for n in tree.find_all(exp.Anonymous) if _is_in_unit(n)]:
        factor = _unit_factor(call, sources)
        value = exp.Paren(this=call.expressions[0].copy())
        call.replace(exp.Paren(this=exp.Mul(this=value, expression=exp.Literal.number(repr(factor)))))


def _column_of(column: exp.Column, sources: dict[str, Table]) -> Column | None:
    """The published column a (resolved) column reference reads, when it reads one."""
    tables = [sources[column.table.lower()]] if column.table and column.table.lower() in sources \
        else list({id(t): t for t in sources.values()}.values())
    for table in tables:
        for found in table.columns.values():
            if column.name.lower() in (found.sql_name, QUERY_GEOMETRY.get(
                    (table.schema, table.sql_name, found.sql_name))):
                return found
    return None


# ---------------------------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------------------------

def _call(name: str, *args: exp.Expr) -> exp.Anonymous:
    return exp.Anonymous(this=f"adql.{name}", expressions=list(args))


def _without_coordsys(args: list[exp.Expr]) -> list[exp.Expr]:
    """ADQL 2.1 made the coordinate system argument optional; a string first argument is it.
    Coordinates are numbers: a string anywhere else is refused."""
    if args and isinstance(args[0], (exp.Literal, exp.Null)) and (
            isinstance(args[0], exp.Null) or args[0].is_string):
        args = args[1:]
    for arg in args:
        if isinstance(arg, exp.Literal) and arg.is_string:
            raise AdqlError(f"{arg.sql()}: a coordinate is a number (the coordinate system, "
                            "if given, comes first)", *_position(arg))
    return args


def _is_point(node: exp.Expr) -> bool:
    """A point: adql.point(...), or an indexed point column POINT(s_ra, s_dec) became."""
    return (isinstance(node, exp.Anonymous) and node.name == "adql.point") or (
        isinstance(node, exp.Column) and node.name in INDEXED_POINT_COLUMNS)


def _yields_point(node: exp.Expr) -> bool:
    """A point value: a POINT, or a CENTROID or a CAST to POINT (pgsphere has no && of a point
    with a region: a point intersects a region it lies in)."""
    return _is_point(node) or (isinstance(node, exp.Anonymous)
                               and node.name in ("adql.centroid", "adql.cast_point"))


def _geometry_call(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.USERDEFINED:
        # CAST(x AS POINT|CIRCLE|POLYGON): from a DALI string (ADQL 2.1 section 4.7.1)
        return _call("cast_" + CAST_KINDS[str(node.to.args.get("kind")).lower()], node.this)
    name, args = _call_of(node)
    if name == "POINT":
        args = _without_coordsys(args)
        _arity(node, "POINT", args, 2)
        return _point(node, args, _compared(node))
    if name == "CIRCLE":
        args = _without_coordsys(args)
        if len(args) == 3:
            return _call("circle", _call("point", args[0], args[1]), args[2])
        _arity(node, "CIRCLE", args, 2)
        return _call("circle", *args)
    if name == "POLYGON":
        args = _without_coordsys(args)
        if args and all(_is_point(a) for a in args):
            args = [c for a in args for c in a.expressions]
        elif len(args) < 6 or len(args) % 2:
            raise AdqlError(f"POLYGON takes three or more pairs of coordinates, not {len(args)} "
                            "numbers", *_position(node))
        return _call("polygon", *args)
    if name == "DISTANCE":
        if len(args) == 4:
            args = [_point(node, args[:2], True), _point(node, args[2:], True)]
        _arity(node, "DISTANCE", args, 2)
        return _call("distance", *args)
    if name in ("AREA", "CENTROID", "COORD1", "COORD2"):
        _arity(node, name, args, 1)
        return _call(name.lower(), *args)
    if name == "COORDSYS":
        return exp.Literal.string("ICRS")
    if name == "CONTAINS":
        _arity(node, "CONTAINS", args, 2)
        return SphereContainedBy(this=args[0], expression=args[1])
    if name == "INTERSECTS":
        _arity(node, "INTERSECTS", args, 2)
        if _yields_point(args[0]):
            return SphereContainedBy(this=args[0], expression=args[1])
        if _yields_point(args[1]):
            return SphereContainedBy(this=args[1], expression=args[0])
        return SphereOverlaps(this=args[0], expression=args[1])
    if name == "BOX":  # deprecated in ADQL 2.1, still in its grammar
        args = _without_coordsys(args)
        if args and _is_point(args[0]):
            args = list(args[0].expressions) + args[1:]
        _arity(node, "BOX", args, 4)
        return _call("box", *args)
    if name == "REGION":
        raise AdqlError("REGION is deprecated in ADQL 2.1 and not supported here: use POLYGON",
                        *_position(node))
    return node


def _point(node: exp.Expr, args: list[exp.Expr], indexable: bool) -> exp.Expr:
    """adql.point(lon, lat); or, where the point is compared (`indexable`), the indexed point
    column those two columns are the degrees of (INDEXED_POINTS), when they are the
    coordinates of a table of this query's own FROM."""
    indexed = _indexed_point(node, args) if indexable else None
    return indexed if indexed is not None else _call("point", *args)


def _compared(node: exp.Expr) -> bool:
    """Whether a POINT is an argument of CONTAINS, INTERSECTS, DISTANCE or a CIRCLE's centre
    (not a corner of a POLYGON or BOX, which take its coordinates)."""
    parent = node.parent
    while isinstance(parent, exp.Paren):
        parent = parent.parent
    return isinstance(parent, exp.Contains) or (
        isinstance(parent, exp.Anonymous)
        and parent.name.upper() in ("CONTAINS", "INTERSECTS", "DISTANCE", "CIRCLE"))


def _indexed_point(node: exp.Expr, args: list[exp.Expr]) -> exp.Column | None:
    if len(args) != 2 or not all(isinstance(a, exp.Column) for a in args):
        return None
    lon, lat = args
    select = node.find_ancestor(exp.Select)
    if lon.table.lower() != lat.table.lower() or select is None:
        return None
    items = [select.args["from_"].this] if select.args.get("from_") else []
    items += [j.this for j in select.args.get("joins") or []]
    for item in items:
        if not isinstance(item, exp.Table):
            continue
        columns = INDEXED_POINTS.get((item.db.lower(), item.name.lower()))
        named = (item.alias_or_name.lower() == lon.table.lower()) if lon.table else len(items) == 1
        if columns and named and (lon.name.lower(), lat.name.lower()) == columns[:2]:
            return exp.column(columns[2], table=lon.table or None)
    return None


def _distance_bound(node: exp.Expr) -> exp.Expr:
    """DISTANCE(p, q) < r with p an indexed point: also p inside the circle of radius r around
    q, which the index answers (the distance is still compared, exactly)."""
    if not isinstance(node, (exp.LT, exp.LTE)) or not isinstance(node.expression, exp.Literal):
        return node
    call = node.this
    if not (isinstance(call, exp.Anonymous) and call.name == "adql.distance"):
        return node
    points = list(call.expressions)
    indexed = [p for p in points if isinstance(p, exp.Column)
               and p.name in INDEXED_POINT_COLUMNS]
    if len(points) != 2 or not indexed:
        return node
    other = points[1] if points[0] is indexed[0] else points[0]
    inside = SphereContainedBy(this=indexed[0].copy(),
                               expression=_call("circle", other.copy(), node.expression.copy()))
    return exp.Paren(this=exp.And(this=inside, expression=node.copy()))


def _arity(node: exp.Expr, name: str, args: list, count: int) -> None:
    if len(args) != count:
        raise AdqlError(f"{name} takes {count} arguments here, not {len(args)}", *_position(node))


def _rewrite_intervals(tree: exp.Expr, lookup) -> None:
    """CADC's intervals (CAOM's energy_bounds, time_bounds and custom_bounds, published with the
    DALI xtype interval): INTERVAL(lower, upper) is a range, CONTAINS(x, interval) is x <@
    interval and INTERSECTS(a, b) is a && b, PostgreSQL's range operators (which the columns'
    GiST indexes answer). INTERVAL stands in CONTAINS and INTERSECTS only."""
    for node in reversed(list(tree.dfs())):
        name, args = _call_of(node)
        if name not in ("CONTAINS", "INTERSECTS") or not any(
                kind_of(a, lookup) == "interval" for a in args):
            continue
        first, second = (_range(a, lookup) for a in args)
        node.replace(SphereContainedBy(this=first, expression=second) if name == "CONTAINS"
                     else SphereOverlaps(this=first, expression=second))
    for node in tree.find_all(exp.Anonymous):
        if node.name.upper() == "INTERVAL":
            raise AdqlError("INTERVAL stands in CONTAINS or INTERSECTS here, as in "
                            "INTERSECTS(INTERVAL(54321.0, 54321.5), time_bounds) = 1",
                            *_position(node))


def _call_of(node: exp.Expr) -> tuple[str, list[exp.Expr]]:
    if isinstance(node, exp.Contains):
        return "CONTAINS", [node.this, node.expression]
    if isinstance(node, exp.Anonymous):
        return node.name.upper(), list(node.expressions)
    return "", []


def _range(node: exp.Expr, lookup) -> exp.Expr:
    """An interval's PostgreSQL form: INTERVAL(a, b) a closed caom2.float8range (bounds in
    either order), a number a double, an interval column itself."""
    name, args = _call_of(node)
    if name == "INTERVAL":
        low, high = (exp.cast(a.copy(), exp.DataType.build("double")) for a in args)
        return exp.Anonymous(this="caom2.float8range", expressions=[
            exp.Least(this=low, expressions=[high.copy()]),
            exp.Greatest(this=low.copy(), expressions=[high.copy()]), exp.Literal.string("[]")])
    if kind_of(node, lookup) == "number":
        return exp.cast(node.copy(), exp.DataType.build("double"))
    return node.copy()


def _rewrite_geometry(tree: exp.Expr) -> exp.Expr:
    """Geometry functions to adql.*; CONTAINS/INTERSECTS compared with 1 or 0 to predicates,
    and to 1/0 values wherever else they stand."""
    for rewrite in (_geometry_call, _comparison, _distance_bound):
        # children first: a rewritten call keeps its (already rewritten) arguments
        for node in reversed(list(tree.dfs())):
            replacement = rewrite(node)
            if replacement is not node:
                node.replace(replacement)
    for predicate in list(tree.find_all(*PREDICATES)):
        if not isinstance(predicate.parent, (exp.Where, exp.And, exp.Or, exp.Not, exp.Paren,
                                             exp.Having, exp.Join)):
            predicate.replace(exp.Case(ifs=[exp.If(this=predicate.copy(), true=exp.Literal.number(1))],
                                       default=exp.Literal.number(0)))
    return tree


def _comparison(node: exp.Expr) -> exp.Expr:
    if not isinstance(node, (exp.EQ, exp.NEQ)):
        return node
    left, right = node.this, node.expression
    if isinstance(left, PREDICATES) and isinstance(right, exp.Literal):
        predicate, value = left, right
    elif isinstance(right, PREDICATES) and isinstance(left, exp.Literal):
        predicate, value = right, left
    else:
        return node
    if value.name not in ("0", "1"):
        raise AdqlError(f"CONTAINS and INTERSECTS are 0 or 1; compared with {value.name}",
                        *_position(node))
    truth = (value.name == "1") == isinstance(node, exp.EQ)
    return predicate if truth else exp.Not(this=exp.Paren(this=predicate))
