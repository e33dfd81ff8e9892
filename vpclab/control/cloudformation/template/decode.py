"""Template text to the decoded document: JSON, or YAML with CloudFormation's short tags.

PyYAML with a loader of our own rather than cfn-lint's decoder: importing
`cfnlint.decode` loads the whole linter (about 3 s), and it reports problems as lint
matches on marked nodes, where the API needs one exception with CloudFormation's
message. The loader keeps to the YAML 1.1 dialect CloudFormation reads:

- YAML 1.1 scalars: `yes`/`no`/`on`/`off` are booleans, `0123` is octal (83) and
  `1:30` sexagesimal (90), as CloudFormation reads an unquoted account id.
- no timestamps: `2010-09-09` stays the string it is written as; the explicit
  `!!timestamp`, `!!binary`, `!!omap`, `!!pairs` and `!!set` tags, aliases and merge
  keys are not supported (a `<<` key is an ordinary key).
- a key given twice in one mapping is malformed.
- every short-form tag becomes its long form: `!Ref x` is `{"Ref": "x"}`,
  `!GetAtt A.B` is `{"Fn::GetAtt": ["A", "B"]}` (split at the first dot, so
  attribute names may hold dots), `!Sub`, `!If`, ... are `{"Fn::Sub": ...}`, ...
"""
from __future__ import annotations

import json
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import TemplateError, format_error

#: The most a TemplateBody may hold (bytes, as the API counts them).
MAX_BODY_BYTES = 51_200

#: Short-form tags whose long form is `Fn::<name>` (`!Ref` and `!Condition` keep their names).
FN_TAGS = (
    "And", "Base64", "Cidr", "Contains", "EachMemberEquals", "EachMemberIn", "Equals",
    "FindInMap", "ForEach", "GetAZs", "GetAtt", "If", "ImportValue", "Join", "Length", "Not",
    "Or", "RefAll", "Select", "Split", "Sub", "ToJsonString", "Transform", "ValueOf",
    "ValueOfAll",
)

_UNSUPPORTED_TAGS = ("binary", "omap", "pairs", "set", "timestamp")
_DROPPED_RESOLVERS = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:merge"}


class _NotWellFormed(yaml.MarkedYAMLError):
    """A YAML problem PyYAML itself accepts (duplicate key, alias, unsupported tag)."""


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader less timestamps and merge keys, plus the short-form tags."""

    yaml_implicit_resolvers = {  # noqa: RUF012 (PyYAML's own class attribute, overridden)
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in _DROPPED_RESOLVERS]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _NotWellFormed(None, None, "YAML aliases are not supported", event.start_mark)
        return super().compose_node(parent, index)

    def flatten_mapping(self, node: MappingNode) -> None:
        """No merge keys: `<<` is resolved as a string, so there is nothing to flatten."""

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, (dict, list)):
                    continue  # SafeConstructor reports an unhashable key itself
                if key in seen:
                    raise _NotWellFormed(None, None, f"duplicate key {key!r}", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[arg-type]


def _unsupported(loader: _CfnLoader, node: Node) -> Any:
    raise _NotWellFormed(None, None, f"unsupported tag {node.tag}", node.start_mark)


def _argument(loader: _CfnLoader, node: Node) -> Any:
    if isinstance(node, ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


def _long_form(name: str) -> Any:
    def construct(loader: _CfnLoader, node: Node) -> Any:
        arg = _argument(loader, node)
        if name == "Fn::GetAtt" and isinstance(arg, str):
            resource, _, attribute = arg.partition(".")
            arg = [resource, attribute]
        return {name: arg}
    return construct


for _tag in _UNSUPPORTED_TAGS:
    _CfnLoader.add_constructor(f"tag:yaml.org,2002:{_tag}", _unsupported)
_CfnLoader.add_constructor("!Ref", _long_form("Ref"))
_CfnLoader.add_constructor("!Condition", _long_form("Condition"))
for _tag in FN_TAGS:
    _CfnLoader.add_constructor(f"!{_tag}", _long_form(f"Fn::{_tag}"))


def _looks_like_json(body: str) -> bool:
    return body.lstrip().startswith("{")


def decode(body: str) -> dict[str, Any]:
    """The decoded template document; `TemplateError` with CloudFormation's words if not one."""
    if len(body.encode()) > MAX_BODY_BYTES:
        raise TemplateError(
            "1 validation error detected: Value at 'templateBody' failed to satisfy "
            f"constraint: Member must have length less than or equal to {MAX_BODY_BYTES}")
    document: Any
    if _looks_like_json(body):
        try:
            document = json.loads(body)
        except json.JSONDecodeError as err:
            raise format_error(f"JSON not well-formed. (line {err.lineno}, column {err.colno})") from None
    else:
        try:
            document = yaml.load(body, Loader=_CfnLoader)
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark or err.context_mark
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise format_error(f"YAML not well-formed.{where}") from None
        except (yaml.YAMLError, ConstructorError):
            raise format_error("YAML not well-formed.") from None
    if not isinstance(document, dict):
        raise format_error("unsupported structure.")
    return document
