"""What kind of value an ADQL expression is, and the argument rules of the geometry functions.

ADQL 2.1 section 4.2 types every geometry function: POINT, CIRCLE, POLYGON and BOX take numbers
(or points), an optional coordinate system first that is a string; CONTAINS and INTERSECTS,
AREA, CENTROID and COORDSYS take geometries; COORD1, COORD2 and DISTANCE take points. A query
that breaks a rule is refused here, with the argument at fault and its position, before
PostgreSQL could answer with the signature of an adql.* function. The kind of an expression is
what its form or its TAP_SCHEMA column says; where it cannot be known (CASE, a derived table's
column) the query is let through and the database decides.

unit_of() gives an expression's unit for IN_UNIT (ADQL 2.1 section 2.4.1): a column's TAP_SCHEMA
unit, carried through arithmetic and the functions that keep it.
"""

from __future__ import annotations

from typing import Callable

from sqlglot import exp

from .catalog import Column
from .errors import AdqlError, position

GEOMETRY = {"point", "circle", "polygon", "region"}
NUMERIC_DATATYPES = {"boolean", "unsignedByte", "short", "int", "long", "float", "double"}
XTYPE_KINDS = {"point": "point", "adql:point": "point", "circle": "circle",
               "polygon": "polygon", "adql:region": "region", "region": "region",
               "timestamp": "timestamp", "interval": "interval"}
FUNCTION_KINDS = {
    "POINT": "point", "CENTROID": "point", "CIRCLE": "circle", "POLYGON": "polygon",
    "BOX": "polygon", "COORDSYS": "string", "INTERVAL": "interval",
    **{name: "number" for name in (
        "AREA", "DISTANCE", "COORD1", "COORD2", "CONTAINS", "INTERSECTS", "IN_UNIT", "DEGREES",
        "RADIANS", "PI", "ACOS", "ASIN", "ATAN", "ATAN2", "COS", "COT", "SIN", "TAN", "LOG",
        "SIGN", "ADQL.TRUNCATE", "ADQL.ROUND")},
}
NUMERIC_NODES = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg, exp.Abs, exp.Ceil,
                 exp.Exp, exp.Floor, exp.Ln, exp.Log, exp.Pow, exp.Sqrt, exp.Rand, exp.Round,
                 exp.Count, exp.Avg, exp.Sum, exp.Contains, exp.HexString, exp.BitwiseAnd,
                 exp.BitwiseOr, exp.BitwiseXor, exp.BitwiseNot) + tuple(
    getattr(exp, name) for name in (  # the trigonometry sqlglot types (versions differ)
        "Pi", "Sin", "Cos", "Tan", "Cot", "Asin", "Acos", "Atan", "Atan2", "Degrees", "Radians",
        "Sign") if hasattr(exp, name))
STRING_NODES = (exp.Lower, exp.Upper, exp.DPipe)
CAST_KINDS = {"point": "point", "circle": "circle", "polygon": "polygon"}
DALI_EXAMPLES = {"point": "'10.68 41.27'", "circle": "'10.68 41.27 0.5'",
                 "polygon": "'10 40 11 40 11 41'"}
# what each kind is called in a refusal
NAMES = {"number": "a number", "string": "a string", "timestamp": "a timestamp",
         "point": "a point", "circle": "a circle", "polygon": "a polygon",
         "region": "a region", "array": "an array of numbers", "interval": "an interval"}
ColumnLookup = Callable[[exp.Column], "Column | None"]
# the aggregates and the kinds they take
AGGREGATES = {exp.Avg: ("AVG", {"number"}, "a number"), exp.Sum: ("SUM", {"number"}, "a number"),
              exp.Max: ("MAX", {"number", "string", "timestamp", "array"},
                        "a number, a string, a time or an array"),
              exp.Min: ("MIN", {"number", "string", "timestamp", "array"},
                        "a number, a string, a time or an array")}
COMPARISONS = {exp.EQ: "=", exp.NEQ: "<>", exp.GT: ">", exp.GTE: ">=", exp.LT: "<",
               exp.LTE: "<="}
# the kinds that have no order (and no < or >): shapes on the sky
UNORDERED = GEOMETRY
# the operators and what they take
OPERATORS = {exp.DPipe: ("||", "strings or numbers"), exp.Add: ("+", "numbers"),
             exp.Sub: ("-", "numbers"), exp.Mul: ("*", "numbers"), exp.Div: ("/", "numbers")}


def column_kind(column: Column) -> str | None:
    """The kind of a published column, from its TAP_SCHEMA datatype, arraysize and xtype."""
    if column.xtype and column.xtype.lower() in XTYPE_KINDS:
        return XTYPE_KINDS[column.xtype.lower()]
    if column.datatype in ("char", "unicodeChar"):
        return "string"
    if column.arraysize:
        return "array"
    return "number" if column.datatype in NUMERIC_DATATYPES else None


def kind_of(node: exp.Expr, lookup: ColumnLookup) -> str | None:
    """The kind of an expression (see the module's docstring), or None when it is not known."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Literal):
        return "string" if node.is_string else "number"
    if isinstance(node, exp.Column):
        found = lookup(node)
        return column_kind(found) if found else None
    if isinstance(node, exp.Anonymous):
        return FUNCTION_KINDS.get(node.name.upper())
    if isinstance(node, exp.Cast):
        target = node.to
        if target.this == exp.DataType.Type.USERDEFINED:
            return CAST_KINDS.get(str(target.args.get("kind")).lower())
        if target.is_type(*exp.DataType.TEXT_TYPES):
            return "string"
        return "timestamp" if target.is_type(exp.DataType.Type.TIMESTAMP) else "number"
    if isinstance(node, NUMERIC_NODES):
        return "number"
    if isinstance(node, STRING_NODES):
        return "string"
    if isinstance(node, (exp.Max, exp.Min, exp.Coalesce)):
        return kind_of(node.this, lookup)
    return None


def check_kinds(tree: exp.Expr, lookup: ColumnLookup) -> None:
    """Refuse what is applied to values of the wrong kind: a geometry function's arguments
    (ADQL 2.1 section 4.2), an operator's, an aggregate's, a comparison's sides, an ORDER BY."""
    for node in tree.walk():
        if isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.USERDEFINED:
            _check_geometry_cast(node, lookup)
        elif isinstance(node, exp.Contains):
            _check_call(node, "CONTAINS", [node.this, node.expression], lookup)
        elif isinstance(node, exp.Anonymous) and node.name.upper() in RULES:
            _check_call(node, node.name.upper(), list(node.expressions), lookup)
        elif isinstance(node, tuple(OPERATORS)):
            _check_operands(node, lookup)
        elif isinstance(node, tuple(AGGREGATES)):
            _check_aggregate(node, lookup)
        elif isinstance(node, tuple(COMPARISONS)):
            _check_comparison(node, lookup)
        elif isinstance(node, exp.Ordered):
            kind = kind_of(node.this, lookup)
            if kind in UNORDERED:
                raise AdqlError(f"ORDER BY: {NAMES[kind]} has no order", *position(node.this))


def check_conditions(tree: exp.Expr, lookup: ColumnLookup) -> None:
    """Refuse a WHERE, HAVING or ON that is a value rather than a condition: ADQL 2.1's search
    condition is made of predicates (comparisons, BETWEEN, LIKE, IN, IS NULL, EXISTS), joined
    by AND, OR and NOT. (PostgreSQL would answer with the types of its own operators.)"""
    for node in tree.walk():
        if isinstance(node, (exp.Where, exp.Having)):
            _check_condition(node.this, node.key.upper(), lookup)
        elif isinstance(node, exp.Join) and node.args.get("on") is not None:
            _check_condition(node.args["on"], "ON", lookup)


def _check_condition(node: exp.Expr, clause: str, lookup: ColumnLookup) -> None:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Connector):  # AND, OR
        _check_condition(node.this, clause, lookup)
        _check_condition(node.expression, clause, lookup)
        return
    if isinstance(node, exp.Not):
        _check_condition(node.this, clause, lookup)
        return
    kind = kind_of(node, lookup)
    if kind is None or (isinstance(node, exp.Column) and getattr(lookup(node), "datatype", None)
                        == "boolean"):  # (a boolean column is a condition of its own)
        return
    raise AdqlError(f"{clause} takes a condition, such as a comparison (CONTAINS(...) = 1, "
                    f"s_ra > 10), not {NAMES[kind]}", *position(node))


def _check_operands(node: exp.Binary, lookup: ColumnLookup) -> None:
    """Strings are joined (||) and numbers computed (+ - * /), not geometries: PostgreSQL would
    join pgsphere's own text of a point, '(3d , 4d)', which is no DALI value."""
    symbol, wanted = OPERATORS[type(node)]
    for side in (node.this, node.expression):
        kind = kind_of(side, lookup)
        if kind in GEOMETRY:
            raise AdqlError(f"{symbol}: its operands are {wanted}, not {NAMES[kind]}",
                            *position(side))


def _check_aggregate(node: exp.Expr, lookup: ColumnLookup) -> None:
    name, allowed, expected = AGGREGATES[type(node)]
    kind = kind_of(node.this, lookup)
    if kind is not None and kind not in allowed:
        raise AdqlError(f"{name}: its argument is {expected}, not {NAMES[kind]}",
                        *position(node.this))


def _check_comparison(node: exp.Binary, lookup: ColumnLookup) -> None:
    """Shapes are compared with shapes of their own kind (= and <> only); where they meet is
    what INTERSECTS and CONTAINS are for."""
    kinds = [kind_of(side, lookup) for side in (node.this, node.expression)]
    if not any(k in UNORDERED for k in kinds) or None in kinds:
        return
    symbol = COMPARISONS[type(node)]
    unordered = next(k for k in kinds if k in UNORDERED)
    if not isinstance(node, (exp.EQ, exp.NEQ)):
        raise AdqlError(f"{symbol}: {NAMES[unordered]} has no order", *position(node))
    if kinds[0] != kinds[1] and set(kinds) != {"region", "polygon"}:
        raise AdqlError(f"{symbol}: {NAMES[kinds[0]]} and {NAMES[kinds[1]]} cannot be compared; "
                        "INTERSECTS and CONTAINS tell where shapes meet", *position(node))


def _check_geometry_cast(node: exp.Cast, lookup: ColumnLookup) -> None:
    """CAST(x AS POINT|CIRCLE|POLYGON) reads a DALI string, or keeps a geometry of that type."""
    target = CAST_KINDS[str(node.to.args.get("kind")).lower()]
    kind = kind_of(node.this, lookup)
    if kind not in ("string", target, None) and (target, kind) != ("polygon", "region"):
        _refuse(f"CAST to {target.upper()}", node.this,
                f"it reads a DALI string such as {DALI_EXAMPLES[target]}", kind)


def _check_call(node: exp.Expr, name: str, args: list[exp.Expr], lookup: ColumnLookup) -> None:
    kinds = [kind_of(a, lookup) for a in args]
    RULES[name](node, name, args, kinds)


def _refuse(name: str, arg: exp.Expr, expected: str, kind: str | None) -> None:
    raise AdqlError(f"{name}: {expected}, not {NAMES.get(kind, kind)}", *position(arg))


def _want(name: str, args: list[exp.Expr], kinds: list[str | None], allowed: set[str],
          expected: str) -> None:
    for arg, kind in zip(args, kinds):
        if kind is not None and kind not in allowed:
            _refuse(name, arg, expected, kind)


def _coordinate_system(node: exp.Expr, name: str, args: list, kinds: list, plain: int) -> int:
    """How many leading arguments are the coordinate system: 1 when there is one argument more
    than the form without it takes (`plain`), and then it must be a string."""
    if len(args) == plain + 1:
        if kinds[0] not in ("string", None):
            _refuse(name, args[0], f"with {len(args)} arguments the first is the coordinate "
                                   "system, a string such as 'ICRS'", kinds[0])
        return 1
    return 0


def _point(node, name, args, kinds) -> None:
    skip = _coordinate_system(node, name, args, kinds, 2)
    _want(name, args[skip:], kinds[skip:], {"number"}, "its coordinates are numbers (degrees)")


def _circle(node, name, args, kinds) -> None:
    centre_is_point = len(args) >= 2 and kinds[-2] == "point"
    skip = _coordinate_system(node, name, args, kinds, 2 if centre_is_point else 3)
    rest, rest_kinds = args[skip:], kinds[skip:]
    if centre_is_point:
        _want(name, rest[-1:], rest_kinds[-1:], {"number"}, "its radius is a number (degrees)")
    else:
        _want(name, rest, rest_kinds, {"number"},
              "its centre and radius are numbers (degrees), or a POINT and a number")


def _polygon(node, name, args, kinds) -> None:
    # the coordinate system, when given, is a literal string (an even count of numbers follows)
    skip = 1 if args and isinstance(args[0], (exp.Literal, exp.Null)) and kinds[0] != "number" \
        else 0
    rest, rest_kinds = args[skip:], kinds[skip:]
    if rest_kinds and rest_kinds[0] == "point":
        _want(name, rest, rest_kinds, {"point"}, "its corners are all POINTs or all numbers")
    else:
        _want(name, rest, rest_kinds, {"number"}, "its corners are numbers (degrees) or POINTs")


def _box(node, name, args, kinds) -> None:
    centre_is_point = len(args) >= 3 and kinds[-3] == "point"
    skip = _coordinate_system(node, name, args, kinds, 3 if centre_is_point else 4)
    rest, rest_kinds = args[skip:], kinds[skip:]
    if centre_is_point:
        rest, rest_kinds = rest[1:], rest_kinds[1:]
    _want(name, rest, rest_kinds, {"number"}, "its centre and sizes are numbers (degrees)")


def _geometries(node, name, args, kinds) -> None:
    _want(name, args, kinds, GEOMETRY,
          "its arguments are geometries (POINT, CIRCLE, POLYGON or a geometry column)")


def _points(node, name, args, kinds) -> None:
    if name == "DISTANCE" and len(args) == 4:
        _want(name, args, kinds, {"number"}, "with four arguments they are numbers (degrees)")
        return
    _want(name, args, kinds, {"point"}, "its arguments are points")


def _contains(node, name, args, kinds) -> None:
    """CONTAINS of geometries, or (as CADC's service has it) of a number or an interval in an
    interval: CONTAINS(4.5e-7, energy_bounds)."""
    if "interval" not in kinds:
        _geometries(node, name, args, kinds)
        return
    _want(name, args[:1], kinds[:1], {"number", "interval"},
          "with an interval, the first is a number or an interval")
    _want(name, args[1:], kinds[1:], {"interval"},
          "with an interval, the second is an interval (INTERVAL(lower, upper) or an interval "
          "column such as energy_bounds)")


def _intersects(node, name, args, kinds) -> None:
    """INTERSECTS of geometries, or (as CADC's service has it) of two intervals:
    INTERSECTS(INTERVAL(54321.0, 54321.5), time_bounds)."""
    if "interval" not in kinds:
        _geometries(node, name, args, kinds)
        return
    _want(name, args, kinds, {"interval"},
          "with an interval, both are intervals (INTERVAL(lower, upper) or an interval column)")


def _interval(node, name, args, kinds) -> None:
    if len(args) != 2:
        raise AdqlError(f"INTERVAL takes 2 arguments, its lower and upper bounds, not {len(args)}",
                        *position(node))
    _want(name, args, kinds, {"number"}, "its bounds are numbers")


RULES = {"POINT": _point, "CIRCLE": _circle, "POLYGON": _polygon, "BOX": _box,
         "CONTAINS": _contains, "INTERSECTS": _intersects, "INTERVAL": _interval,
         "AREA": _geometries,
         "CENTROID": _geometries, "COORDSYS": _geometries, "COORD1": _points,
         "COORD2": _points, "DISTANCE": _points}


# ---------------------------------------------------------------------------------------------
# Units, for IN_UNIT
# ---------------------------------------------------------------------------------------------

UNIT_KEEPING = (exp.Paren, exp.Neg, exp.Abs, exp.Ceil, exp.Floor, exp.Round, exp.Avg, exp.Sum,
                exp.Max, exp.Min)


def unit_of(node: exp.Expr, lookup: ColumnLookup, call: exp.Expr):
    """The astropy unit of a numeric expression, or None when it has none (a bare number)."""
    from astropy import units

    if isinstance(node, exp.Column):
        found = lookup(node)
        if found is None or not found.unit:
            return None
        try:
            return units.Unit(found.unit, format="vounit")
        except ValueError:
            raise AdqlError(f"IN_UNIT: the unit of {node.name}, {found.unit!r}, is not a "
                            "VOUnit", *position(call)) from None
    if isinstance(node, UNIT_KEEPING):
        return unit_of(node.this, lookup, call)
    if isinstance(node, (exp.Add, exp.Sub)):
        left, right = unit_of(node.this, lookup, call), unit_of(node.expression, lookup, call)
        if left is not None and right is not None and left != right:
            raise AdqlError(f"IN_UNIT: {node.sql()} combines {left} and {right}; convert one "
                            "side first", *position(call))
        return left if left is not None else right
    if isinstance(node, (exp.Mul, exp.Div)):
        left, right = unit_of(node.this, lookup, call), unit_of(node.expression, lookup, call)
        if left is None and right is None:
            return None
        left = left if left is not None else units.dimensionless_unscaled
        right = right if right is not None else units.dimensionless_unscaled
        return left * right if isinstance(node, exp.Mul) else left / right
    return None
