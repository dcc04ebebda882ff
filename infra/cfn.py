"""Reading template.yaml: a YAML loader for CloudFormation's short intrinsic tags, and a
resolver for the few intrinsics the local stack needs (Ref, GetAtt, Sub)."""
from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _Loader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's short-form intrinsic tags."""


def _intrinsic(name: str) -> Callable:
    def construct(loader: yaml.Loader, node: yaml.Node) -> dict:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}
    return construct


for _tag in ("Ref", "Sub", "GetAtt", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or",
             "FindInMap", "ImportValue", "Base64", "GetAZs", "Cidr", "Condition"):
    _Loader.add_constructor(f"!{_tag}", _intrinsic("Ref" if _tag in ("Ref", "Condition") else f"Fn::{_tag}"))


def load_template(path: Path = TEMPLATE) -> dict:
    """A fresh copy each call (callers change it); parsed once per version of the file, as every
    test's stack loads it."""
    return copy.deepcopy(_parsed(path, path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=4)
def _parsed(path: Path, mtime_ns: int) -> dict:
    return yaml.load(path.read_text(), Loader=_Loader)


class Resolver:
    """Resolves intrinsics against parameters and the attributes of created resources."""

    def __init__(self, parameters: dict[str, str], pseudo: dict[str, str]):
        self.parameters = parameters
        self.pseudo = pseudo
        self.refs: dict[str, str] = {}
        self.attributes: dict[tuple[str, str], str] = {}

    def ref(self, name: str) -> str:
        for table in (self.parameters, self.pseudo, self.refs):
            if name in table:
                return table[name]
        raise KeyError(f"cannot resolve Ref {name}")

    def get_att(self, logical_id: str, attribute: str) -> str:
        return self.attributes[(logical_id, attribute)]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return self.ref(value["Ref"])
        if set(value) == {"Fn::GetAtt"}:
            return self.get_att(*value["Fn::GetAtt"])
        if set(value) == {"Fn::Sub"}:
            return re.sub(r"\$\{([^}]+)\}", lambda m: self._sub(m.group(1)), value["Fn::Sub"])
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub(self, name: str) -> str:
        if name.startswith("!"):  # ${!Literal} is Sub's escape for a literal ${Literal}
            return "${" + name[1:] + "}"
        if "." in name and not name.startswith("AWS::"):
            return self.get_att(*name.split(".", 1))
        return self.ref(name)


def logical_id_of(value: Any) -> str | None:
    """The resource an event source points at: !GetAtt X.Arn, !Sub "${X.Arn}" or !Ref X."""
    if isinstance(value, dict):
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
        if "Ref" in value:
            return value["Ref"]
        if "Fn::Sub" in value:
            match = re.fullmatch(r"\$\{([A-Za-z0-9]+)\.[A-Za-z]+\}", value["Fn::Sub"])
            return match.group(1) if match else None
    return None


def camel(handler_name: str) -> str:
    """Chalice's logical id for a handler: handle_validation -> HandleValidation."""
    return "".join(part[:1].upper() + part[1:] for part in handler_name.split("_"))
