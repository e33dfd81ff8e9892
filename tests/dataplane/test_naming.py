from vpclab.kernel import naming


def test_prefix_is_stable_and_per_directory(tmp_path):
    a = naming.prefix_for_state_dir(tmp_path / "a")
    assert a == naming.prefix_for_state_dir(str(tmp_path / "a"))
    assert a != naming.prefix_for_state_dir(tmp_path / "b")
    assert naming.check_prefix(a) == a and len(a) == 7


def test_link_names_fit_ifnamsiz_and_are_deterministic():
    p = "vl0a1b2"
    names = {naming.veth_name(p, f"i-{n:017x}") for n in range(2000)}
    assert len(names) == 2000
    assert all(len(n) == 15 and naming.owns_link(p, n) for n in names)
    assert naming.bridge_name(p, "subnet-1") == naming.bridge_name(p, "subnet-1")
    assert naming.bridge_name(p, "subnet-1") != naming.veth_name(p, "subnet-1")


def test_namespace_names_are_readable_and_owned():
    p = "vl0a1b2"
    assert naming.namespace_name(p, "vpc-0abc") == "vl0a1b2-vpc-0abc"
    assert naming.owns_namespace(p, "vl0a1b2-i-1")
    assert not naming.owns_namespace(p, "vl0a1b3-i-1")
    assert not naming.owns_namespace(p, "vl0a1b2")


def test_bad_names_rejected():
    import pytest

    for bad in ("x", "vl12345x", "VL12345"):
        with pytest.raises(ValueError):
            naming.check_prefix(bad)
    for bad in ("../etc", "a/b", "", ".."):
        with pytest.raises(ValueError):
            naming.check_namespace_name(bad)
