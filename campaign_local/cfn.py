"""Read template.yaml the way CloudFormation would, enough to build the local stack from it.

Only what the local stack needs is resolved: Ref, Fn::Sub, Fn::GetAtt, Fn::Join, Fn::If,
Fn::Select, Fn::Equals/Not/And/Or for conditions, and the pseudo parameters. The point is that
names, environment variables, handlers and state machine substitutions come from the template,
so the local stack cannot drift from what `sam deploy` creates.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_SHORT_TAGS = {
    "!Ref": "Ref",
    "!Sub": "Fn::Sub",
    "!GetAtt": "Fn::GetAtt",
    "!Join": "Fn::Join",
    "!If": "Fn::If",
    "!Select": "Fn::Select",
    "!Equals": "Fn::Equals",
    "!Not": "Fn::Not",
    "!And": "Fn::And",
    "!Or": "Fn::Or",
    "!Split": "Fn::Split",
    "!Condition": "Condition",
    "!FindInMap": "Fn::FindInMap",
    "!Base64": "Fn::Base64",
    "!GetAZs": "Fn::GetAZs",
    "!ImportValue": "Fn::ImportValue",
    "!Cidr": "Fn::Cidr",
    "!ToJsonString": "Fn::ToJsonString",
}


class _Loader(yaml.SafeLoader):
    pass


def _construct(tag: str):
    def build(loader: yaml.Loader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        elif isinstance(node, yaml.MappingNode):
            value = loader.construct_mapping(node, deep=True)
        else:
            raise yaml.constructor.ConstructorError(None, None, f"unexpected node for {tag}", node.start_mark)
        return {tag: value}

    return build


for _short, _long in _SHORT_TAGS.items():
    _Loader.add_constructor(_short, _construct(_long))


@functools.lru_cache(maxsize=8)
def _parse(text: str) -> dict[str, Any]:
    # _Loader is a SafeLoader subclass that only adds the CloudFormation short-form tags.
    return yaml.load(text, Loader=_Loader)  # noqa: S506


def load(path: Path) -> dict[str, Any]:
    """The template as plain data, cached by content (every test builds a stack from it)."""
    return copy.deepcopy(_parse(path.read_text(encoding="utf-8")))


@dataclass
class Resolver:
    """Resolves intrinsic functions against local physical names and parameter values."""

    template: dict[str, Any]
    region: str
    account: str
    stack_name: str
    parameters: dict[str, str] = field(default_factory=dict)
    physical: dict[str, str] = field(default_factory=dict)  # logical id -> Ref value
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)  # (logical, attr) -> value

    def parameter(self, name: str) -> str:
        if name in self.parameters:
            return self.parameters[name]
        spec = self.template.get("Parameters", {}).get(name)
        if spec is None:
            raise KeyError(f"template.yaml has no parameter {name}")
        return str(spec.get("Default", ""))

    def pseudo(self, name: str) -> str | None:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::StackName": self.stack_name,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account}:stack/{self.stack_name}/local",
        }.get(name)

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.template.get("Parameters", {}):
            return self.parameter(name)
        if name in self.physical:
            return self.physical[name]
        raise KeyError(f"cannot resolve Ref {name} locally (not created yet?)")

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template.get("Conditions", {})[name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.attributes[(logical, attribute)]
            if key == "Fn::Join":
                sep, items = arg
                return sep.join(str(self.resolve(i)) for i in self.resolve(items))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                sep, text = arg
                return str(self.resolve(text)).split(sep)
            if key == "Fn::If":
                name, yes, no = arg
                return self.resolve(yes if self.condition(name) else no)
            if key == "Fn::Equals":
                a, b = self.resolve(arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(a) for a in arg)
            if key == "Fn::Or":
                return any(self.resolve(a) for a in arg)
            if key == "Condition":
                return self.condition(arg)
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        local = {k: self.resolve(v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in local:
                return str(local[name])
            if "." in name and not name.startswith("AWS::"):
                logical, attribute = name.split(".", 1)
                return str(self.attributes[(logical, attribute)])
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)
