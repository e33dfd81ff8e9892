"""yum and dnf on an Amazon Linux machine (tests/helpers/guest_root.py), over its own
dpkg and apt; the machine has no internet (a network namespace with loopback only)."""
from __future__ import annotations

import subprocess

import pytest

from tests.helpers.guest_root import booted
from tests.helpers.server import is_root

pytestmark = pytest.mark.skipif(not is_root(), reason="needs root (namespaces, mounts)")


@pytest.fixture
def al2023(tmp_path):
    for g in booted(tmp_path, distribution="amazon-linux-2023", default_user="ec2-user"):
        g.boot(first_boot=False)
        g.wait_console("finished at")
        yield g


def debian_version(package: str) -> str:
    return subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True,
                          text=True, check=True).stdout.split(":", 1)[-1]


def test_installed_package_is_already_installed(al2023):
    r = al2023.run("yum install -y nginx")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (f"Package nginx-{debian_version('nginx')}.x86_64 is already installed.\n"
                        "Dependencies resolved.\nNothing to do.\nComplete!\n")
    assert al2023.run("dnf -q install -y nginx").stdout == ""
    r = al2023.run("yum list installed nginx")
    assert r.returncode == 0
    assert r.stdout.splitlines()[1].split()[:2] == ["nginx.x86_64", debian_version("nginx")]
    assert "Name         : nginx" in al2023.run("dnf info nginx").stdout


def test_missing_package_fails_as_dnf_without_its_repository(al2023):
    r = al2023.run("yum install -y sl")
    assert r.returncode == 1
    assert r.stderr.endswith("Error: Failed to download metadata for repo 'amazonlinux': Cannot "
                             "download repomd.xml: Cannot download repodata/repomd.xml: All "
                             "mirrors were tried\n")
    assert "Errors during downloading metadata for repository 'amazonlinux':" in r.stderr
    assert al2023.run("command -v sl").returncode != 0
    # httpd is Debian's apache2: the same failure, through apt-get inside the machine.
    assert al2023.run("dnf install -y httpd").returncode == 1


def test_update_check_update_makecache_clean(al2023):
    r = al2023.run("yum update -y")
    assert r.returncode == 0
    assert r.stdout.endswith("Dependencies resolved.\nNothing to do.\nComplete!\n")
    assert al2023.run("yum check-update").returncode == 0
    assert al2023.run("dnf makecache").stdout == "Metadata cache created.\n"
    assert al2023.run("yum clean all").returncode == 0
    r = al2023.run("yum remove -y no-such-package")
    assert r.stdout.startswith("No match for argument: no-such-package\n")
    assert al2023.run("yum frobnicate").returncode == 1


def test_user_data_written_for_amazon_linux(tmp_path):
    for g in booted(tmp_path, distribution="amazon-linux-2023", default_user="ec2-user"):
        g.upper.joinpath("etc/systemd/system").mkdir(parents=True, exist_ok=True)
        g.boot(first_boot=True, user_data="#!/bin/bash\nyum update -y\nyum install -y nginx\n"
                                          "systemctl enable --now nginx\n")
        console = g.wait_console("Datasource DataSourceEc2.", timeout=30)
        assert "Cloud-init v. 22.2.2 running 'init' at " in console
        assert "is already installed." in console
        assert "Welcome to nginx" in g.run("curl -s http://127.0.0.1/").stdout
        # Amazon Linux 2023 makes no RSA host key.
        assert "(RSA)" not in console
