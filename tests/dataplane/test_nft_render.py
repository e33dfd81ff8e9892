"""Rendering and diffing of nft rulesets (no root needed)."""

import pytest

from vpclab.kernel.nft import NftChain, NftSet, NftTable, render_replace, render_update, with_elements


def table(backends: dict[str, str]) -> NftTable:
    return NftTable(
        "ip",
        "vl0a1b2-nat",
        sets=(
            NftSet.map("backends", "ipv4_addr . inet_service", "ipv4_addr . inet_service", backends),
        ),
        chains=(
            NftChain(
                "prerouting",
                ("dnat ip to ip daddr . tcp dport map @backends",),
                type="nat",
                hook="prerouting",
                priority="dstnat",
                policy="accept",
            ),
        ),
    )


def test_full_replace_is_one_buffer_add_delete_declare():
    script = render_replace(table({"10.0.0.1 . 80": "10.0.0.2 . 8080"}))
    lines = script.splitlines()
    assert lines[0] == "add table ip vl0a1b2-nat"
    assert lines[1] == "delete table ip vl0a1b2-nat"
    assert "elements = { 10.0.0.1 . 80 : 10.0.0.2 . 8080 }" in script
    assert "type nat hook prerouting priority dstnat; policy accept;" in script


def test_unknown_current_means_full_replace():
    assert render_update(None, table({})).startswith("add table")


def test_same_table_means_nothing():
    assert render_update(table({"a . 1": "b . 2"}), table({"a . 1": "b . 2"})) == ""


def test_one_more_element_is_one_add():
    old = {f"10.0.{i // 250}.{i % 250} . 80": "10.1.0.1 . 80" for i in range(999)}
    new = dict(old, **{"10.9.9.9 . 80": "10.1.0.2 . 80"})
    script = render_update(table(old), table(new))
    assert script == "add element ip vl0a1b2-nat backends { 10.9.9.9 . 80 : 10.1.0.2 . 80 }\n"


def test_changed_map_value_is_delete_then_add_in_one_script():
    script = render_update(table({"a . 1": "b . 2"}), table({"a . 1": "c . 2"}))
    assert script.splitlines() == [
        "delete element ip vl0a1b2-nat backends { a . 1 }",
        "add element ip vl0a1b2-nat backends { a . 1 : c . 2 }",
    ]


def test_structure_change_means_full_replace():
    t = table({})
    changed = NftTable(t.family, t.name, t.sets, t.chains + (NftChain("extra"),))
    assert render_update(t, changed).startswith("add table")


def test_statements_cannot_smuggle_commands():
    with pytest.raises(ValueError):
        render_replace(table({"a . 1; flush ruleset": "b"}))


def test_with_elements():
    t = with_elements(table({}), "backends", {"a . 1": "b . 2"})
    assert t.set("backends").elements == {"a . 1": "b . 2"}
