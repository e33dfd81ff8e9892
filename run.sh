#!/usr/bin/env bash
# Set up vpclab on a fresh Debian machine (as root) and run the lab or the tests.
#   ./run.sh lab    install everything, put `vpclab` on PATH, then run the PrivateLink lab
#   ./run.sh test   install everything, then type-check vpclab/ (mypy) and run the test suite
# Extra arguments go to `vpclab lab privatelink` or to pytest.
set -euo pipefail
cd "$(dirname "$0")"

what="${1:-}"
shift || true

install_debian_packages() {
    local need=()
    # "$@": more command:package pairs (the tests drive the AWS SDK for JavaScript too)
    for cmd in nft:nftables ip:iproute2 nginx:nginx iperf3:iperf3 curl:curl pkill:procps setpriv:util-linux "$@"; do
        command -v "${cmd%%:*}" >/dev/null 2>&1 || need+=("${cmd##*:}")
    done
    [ -e /usr/lib/x86_64-linux-gnu/libnftables.so.1 ] || [ -e /usr/lib/aarch64-linux-gnu/libnftables.so.1 ] \
        || need+=(libnftables1)
    python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
    if [ "${#need[@]}" -gt 0 ]; then
        echo "run.sh: installing Debian packages: ${need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
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
    for cmd in aws awslocal; do
        command -v "$cmd" >/dev/null 2>&1 || ln -sf "$PWD/.venv/bin/$cmd" "$bin/$cmd"
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
        install_debian_packages node:nodejs npm:npm chromium:chromium
        install_python_packages test,bench
        # The type checker first (its config is in pyproject.toml); a type error fails the run.
        .venv/bin/python -m mypy
        exec .venv/bin/python -m pytest -q "$@"
        ;;
    *)
        echo "usage: ./run.sh lab|test [args...]" >&2
        exit 2
        ;;
esac
