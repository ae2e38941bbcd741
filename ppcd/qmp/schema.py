"""Argument schemas: one per command, checked the way QEMU's QAPI input visitor checks them.

A schema names each member, its type and whether it is optional; checking gives QEMU's texts
("Parameter 'x' is missing", "Parameter 'x' is unexpected", "Invalid parameter type for 'x',
expected: integer"). The same descriptions produce query-qmp-schema's introspection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Tuple

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


class QMPError(Exception):
    """A command failure as QMP reports it: an error class and a description."""

    def __init__(self, desc: str, error_class: str = "GenericError") -> None:
        super().__init__(desc)
        self.desc = desc
        self.error_class = error_class

    def to_json(self) -> Dict[str, str]:
        return {"class": self.error_class, "desc": self.desc}


@dataclass(frozen=True)
class Type:
    """A QAPI type: a builtin (str, int, bool, number, any), an enum or a struct."""

    name: str
    json_type: str               # QAPI introspection's json-type of a builtin, "enum", "object"
    values: Tuple[str, ...] = ()
    members: Tuple["Member", ...] = ()      # of a struct

    def check(self, value: Any, where: str) -> Any:
        if self.json_type == "enum":
            if not isinstance(value, str):
                raise _wrong_type(where, "string")
            if value not in self.values:
                raise QMPError(f"Parameter '{where}' does not accept value '{value}'")
        elif self.json_type == "int":
            # bool is an int to Python, not to JSON.
            if type(value) is not int or not INT64_MIN <= value <= INT64_MAX:
                raise _wrong_type(where, "integer")
        elif self.json_type == "string":
            if not isinstance(value, str):
                raise _wrong_type(where, "string")
        elif self.json_type == "boolean":
            if not isinstance(value, bool):
                raise _wrong_type(where, "boolean")
        elif self.json_type == "number":
            if type(value) not in (int, float):
                raise _wrong_type(where, "number")
        elif self.json_type == "object":
            if not isinstance(value, dict):
                raise _wrong_type(where, "object")
            return Schema(self.members).check(value)
        return value


def _wrong_type(where: str, expected: str) -> QMPError:
    return QMPError(f"Invalid parameter type for '{where}', expected: {expected}")


STR = Type("str", "string")
INT = Type("int", "int")
BOOL = Type("bool", "boolean")
ANY = Type("any", "value")
BUILTINS = (STR, INT, BOOL, ANY)


def enum(name: str, *values: str) -> Type:
    return Type(name, "enum", values)


def struct(name: str, *members: "Member") -> Type:
    """A struct argument (QAPI 'struct'); handlers get its members as snake_case keys."""
    return Type(name, "object", members=members)


@dataclass(frozen=True)
class Member:
    name: str
    type: Type
    optional: bool = False
    array: bool = False

    def check(self, value: Any) -> Any:
        if not self.array:
            return self.type.check(value, self.name)
        if not isinstance(value, list):
            raise _wrong_type(self.name, "array")
        return [self.type.check(item, f"{self.name}[{i}]") for i, item in enumerate(value)]

    def introspect(self) -> Dict[str, Any]:
        info: Dict[str, Any] = {"name": self.name,
                                "type": f"[{self.type.name}]" if self.array else self.type.name}
        if self.optional:
            info["default"] = None
        return info


@dataclass(frozen=True)
class Schema:
    """The arguments of one command (or the data of one event)."""

    members: Tuple[Member, ...] = field(default_factory=tuple)

    def check(self, arguments: Dict[str, Any]) -> Dict[str, Any]:
        """The arguments as keyword arguments for the handler, or QMPError."""
        known = {m.name: m for m in self.members}
        for name in arguments:
            if name not in known:
                raise QMPError(f"Parameter '{name}' is unexpected")
        checked = {}
        for member in self.members:
            if member.name in arguments:
                checked[member.name.replace("-", "_")] = member.check(arguments[member.name])
            elif not member.optional:
                raise QMPError(f"Parameter '{member.name}' is missing")
        return checked


def introspection(commands: List[Tuple[str, Schema, bool]],
                  events: List[Tuple[str, Schema]]) -> List[Dict[str, Any]]:
    """query-qmp-schema's SchemaInfo list for these commands (name, args, allow-oob) and events.

    Return types are introspected as "any": ppcd describes what it accepts, not what it returns.
    """
    infos: List[Dict[str, Any]] = []
    types: Dict[str, Type] = {t.name: t for t in BUILTINS}
    arrays = set()

    def object_type(owner: str, schema: Schema) -> str:
        if not schema.members:
            return "q_empty"
        name = f"q_obj_{owner}-arg"
        infos.append({"name": name, "meta-type": "object",
                      "members": [m.introspect() for m in schema.members]})
        register(schema.members)
        return name

    def register(members: Tuple[Member, ...]) -> None:
        for m in members:
            types[m.type.name] = m.type
            register(m.type.members)
            if m.array:
                arrays.add(m.type.name)

    for name, schema, allow_oob in commands:
        info = {"name": name, "meta-type": "command", "arg-type": object_type(name, schema),
                "ret-type": "any"}
        if allow_oob:
            info["allow-oob"] = True
        infos.append(info)
    for name, schema in events:
        infos.append({"name": name, "meta-type": "event", "arg-type": object_type(name, schema)})
    infos.append({"name": "q_empty", "meta-type": "object", "members": []})
    for t in types.values():
        if t.json_type == "enum":
            infos.append({"name": t.name, "meta-type": "enum", "values": list(t.values),
                          "members": [{"name": v} for v in t.values]})
        elif t.json_type == "object":
            infos.append({"name": t.name, "meta-type": "object",
                          "members": [m.introspect() for m in t.members]})
        else:
            infos.append({"name": t.name, "meta-type": "builtin", "json-type": t.json_type})
    for element in sorted(arrays):
        infos.append({"name": f"[{element}]", "meta-type": "array", "element-type": element})
    return infos
