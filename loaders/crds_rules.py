"""CRDS's best-reference rules for HST, read from its mapping files (.pmap -> .imap -> .rmap),
as rows the database registers (hst.seed_reference_rules, sql/72_hst_reference_files.sql).

A .pmap names an .imap per instrument, an .imap an .rmap per reference type, and an .rmap is a
`header` (its `parkey`: the keywords that select, then the ones USEAFTER is compared with) and a
`selector`: Match({(value, ...): UseAfter({'date time': 'file', ...}), ...}). The files are
Python literals with two calls in them; they are read with `ast`, never executed. Each row is
one file under one match with one USEAFTER; a match value of '*' or 'N/A' selects anything and
is left out of the selection, and 'A|B' accepts either.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

WILDCARDS = {"*", "N/A"}
NO_USEAFTER = "1900-01-01 00:00:00"  # a rule without dates applies to every observation


class RulesError(Exception):
    """A mapping that cannot be read: the file and why."""


@dataclass(frozen=True)
class Rule:
    """One file of an .rmap under one match and one USEAFTER."""

    instrument: str
    reftype: str
    file: str
    useafter: str
    selection: dict[str, list[str]]
    rmap: str

    def as_json(self) -> dict:
        return {"instrument": self.instrument, "reftype": self.reftype, "file": self.file,
                "useafter": self.useafter, "selection": self.selection, "rmap": self.rmap}


class _Call:
    """Match(...) or UseAfter(...) as read: its name and its one dict argument."""

    def __init__(self, name: str, mapping: dict) -> None:
        self.name, self.mapping = name, mapping


def _value(node: ast.AST):
    """The value of a literal, or of Match({...}) / UseAfter({...})."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) == 1:
        return _Call(node.func.id, _value(node.args[0]))
    if isinstance(node, ast.Dict):
        return {_value(k): _value(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Tuple):
        return tuple(_value(e) for e in node.elts)
    return ast.literal_eval(node)


def read_mapping(path: Path) -> tuple[dict, object]:
    """(header, selector) of a mapping file."""
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
        assigned = {t.targets[0].id: _value(t.value) for t in tree.body
                    if isinstance(t, ast.Assign) and isinstance(t.targets[0], ast.Name)}
    except (OSError, SyntaxError, ValueError) as exc:
        raise RulesError(f"{path.name}: {exc}") from None
    if "header" not in assigned or "selector" not in assigned:
        raise RulesError(f"{path.name}: no header or selector")
    return assigned["header"], assigned["selector"]


def _named(directory: Path, reference: str) -> Path:
    """The mapping a .pmap or .imap names, in `directory` (CRDS's test mappings name paths
    such as test/data/hst/hst_acs_0001.imap; a _0001 version falls back to the plain one)."""
    name = Path(reference).name
    for candidate in (name, name.replace("_0001", "")):
        if (directory / candidate).is_file():
            return directory / candidate
    raise RulesError(f"{reference}: not in {directory}")


def _selection(keys: tuple, values) -> dict[str, list[str]]:
    values = values if isinstance(values, tuple) else (values,)
    selection = {}
    for key, value in zip(keys, values):
        text = str(value).strip()
        if text.upper() in WILDCARDS or text == "":
            continue
        selection[key.upper()] = [v.strip() for v in text.split("|")]
    return selection


def _dated(choice) -> Iterator[tuple[str, str]]:
    """(USEAFTER, file) of what a match chooses."""
    if isinstance(choice, _Call) and choice.name == "UseAfter":
        for useafter, file in choice.mapping.items():
            yield str(useafter), str(file)
    elif isinstance(choice, str):
        yield NO_USEAFTER, choice
    else:
        raise RulesError(f"a selector of kind {getattr(choice, 'name', type(choice).__name__)}")


def rmap_rules(path: Path) -> Iterator[Rule]:
    """The rows of one .rmap."""
    header, selector = read_mapping(path)
    instrument, reftype = str(header["instrument"]).upper(), str(header["filekind"]).lower()
    parkey = header.get("parkey", ((),))
    keys = tuple(parkey[0]) if parkey and isinstance(parkey[0], tuple) else tuple(parkey)
    try:
        if isinstance(selector, _Call) and selector.name == "Match":
            matches = selector.mapping.items()
        else:
            matches = [((), selector)]
        for values, choice in matches:
            for useafter, file in _dated(choice):
                if file.upper() == "N/A":
                    continue
                yield Rule(instrument, reftype, file, useafter, _selection(keys, values), path.name)
    except RulesError as exc:
        raise RulesError(f"{path.name}: {exc}") from None


def pmap_rules(pmap: Path, missing: list[str] | None = None) -> Iterator[Rule]:
    """Every row of the rules a .pmap names, instrument by instrument, type by type. A mapping
    it names that is not beside it is skipped, and its name added to `missing`."""
    directory = pmap.parent
    _, instruments = read_mapping(pmap)
    for imap_name in instruments.values():
        for rmap_name in _listed(directory, imap_name, missing):
            try:
                rmap = _named(directory, rmap_name)
            except RulesError:
                if missing is not None:
                    missing.append(Path(rmap_name).name)
                continue
            yield from rmap_rules(rmap)


def _listed(directory: Path, imap_name: str, missing: list[str] | None) -> list[str]:
    """The .rmap names an .imap lists (none when the .imap is missing)."""
    try:
        _, reftypes = read_mapping(_named(directory, imap_name))
    except RulesError:
        if missing is not None:
            missing.append(Path(imap_name).name)
        return []
    return [str(name) for name in reftypes.values() if str(name).upper() not in ("N/A", "OMIT")]
