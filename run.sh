#!/usr/bin/env bash
# Set up vpclab on a fresh Debian machine (as root) and run the lab or the tests.
#   ./run.sh lab    install everything, put `vpclab` on PATH, then run the PrivateLink lab
#   ./run.sh test   install everything, then type-check vpclab/ (mypy) and run the test suite
#                   (with cfn-lint and the CDK's Python packages: jsii runs Debian's nodejs)
# Extra arguments go to `vpclab lab privatelink` or to pytest.
set -euo pipefail
cd "$(dirname "$0")"

what="${1:-}"
shift || true

install_debian_packages() {
    local need=()
    # "$@": more command:package pairs (the tests drive the AWS SDK for JavaScript too)
    # sshd and sudo are the instances' (their images are this machine's root file system).
    # An entry starting with / is a file the package installs (found by path, not on PATH).
    for cmd in nft:nftables ip:iproute2 nginx:nginx iperf3:iperf3 curl:curl pkill:procps setpriv:util-linux \
               sshd:openssh-server sudo:sudo ssh:openssh-client "$@"; do
        case "${cmd%%:*}" in
            /*) [ -e "${cmd%%:*}" ] || need+=("${cmd##*:}") ;;
            *) command -v "${cmd%%:*}" >/dev/null 2>&1 || need+=("${cmd##*:}") ;;
        esac
    done
    [ -e /usr/lib/x86_64-linux-gnu/libnftables.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libnftables.so.1 ] \
        || need+=(libnftables1)
    python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
    if [ "${#need[@]}" -gt 0 ]; then
        echo "run.sh: installing Debian packages: ${need[*]}"
        apt-get update -qq
        # No service of these packages may start on this machine (an sshd on the host's
        # port 22, say): policy-rc.d refuses, for this install only, unless one is there.
        local policy=""
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            policy=/usr/sbin/policy-rc.d
            printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy"
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
        [ -z "$policy" ] || rm -f "$policy"
    fi
}

install_python_packages() {
    local extras="$1"
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$extras]"
}

# `vpclab` on PATH: a link in $VPCLAB_BIN_DIR (default /usr/local/bin) to the venv's entry
# point; the AWS CLI and awslocal of the README's walk-through too, where none is there yet.
link_commands() {
    local bin="${VPCLAB_BIN_DIR:-/usr/local/bin}"
    mkdir -p "$bin"
    ln -sf "$PWD/.venv/bin/vpclab" "$bin/vpclab"
    # A distribution's /usr/bin/aws (Debian's is the instances' CLI, and older than
    # AWS_ENDPOINT_URL) is shadowed by ours; an AWS CLI the user installed elsewhere is kept.
    for cmd in aws awslocal; do
        case "$(command -v "$cmd" 2>/dev/null || true)" in
            ""|/usr/bin/*) ln -sf "$PWD/.venv/bin/$cmd" "$bin/$cmd" ;;
        esac
    done
}

case "$what" in
    lab)
        install_debian_packages
        install_python_packages test
        link_commands
        exec .venv/bin/vpclab lab privatelink "$@"
        ;;
    test)
        # /usr/bin/aws: the AWS CLI inside instances (their image is this machine's root
        # file system; Amazon Linux ships the CLI), which the endpoint tests run there.
        install_debian_packages node:nodejs npm:npm chromium:chromium /usr/bin/aws:awscli
        install_python_packages test,bench,iac
        # The type checker first (its config is in pyproject.toml); a type error fails the run.
        .venv/bin/python -m mypy
        exec .venv/bin/python -m pytest -q "$@"
        ;;
    *)
        echo "usage: ./run.sh lab|test [args...]" >&2
        exit 2
        ;;
esac
