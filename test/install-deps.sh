#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian bookworm machine, then the npm dependencies.
# Run as root from anywhere; safe to run again (apt is skipped when every package is already installed).
# tcpdump: a failing integration test leaves a pcap of its srv namespace (test/helpers/netns.ts).
# lzop, lz4: independent compressors whose output the unit tests of the LZO and LZ4 decoders decode.
# python3-venv: a venv for openvpn-management-api and openvpn-api (PyPI), the third-party management clients of
# test/integration/management-events.test.ts.
set -euo pipefail

PACKAGES=(openvpn iperf3 iproute2 iptables iputils-ping curl dnsmasq-base psmisc openssl procps g++ make python3 python3-venv tcpdump lzop lz4)
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all Debian packages present (${PACKAGES[*]}); skipping apt"
else
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing ${missing[*]}; run this script as root to install them" >&2
    exit 1
  fi
  echo "install-deps: missing ${missing[*]}"
  echo "install-deps: apt-get update"
  DEBIAN_FRONTEND=noninteractive apt-get update
  echo "install-deps: apt-get install -y ${PACKAGES[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${PACKAGES[@]}"
fi

if [ ! -e /dev/net/tun ]; then
  echo "install-deps: /dev/net/tun missing; trying modprobe tun"
  modprobe tun 2>/dev/null || echo "install-deps: modprobe tun failed; tun-based tests will fail" >&2
fi

PY_VENV="${NANOVPN_TEST_VENV:-/opt/nanovpn-test-venv}"
if "$PY_VENV/bin/python3" -c 'import openvpn_management_api, openvpn_api' 2>/dev/null; then
  echo "install-deps: openvpn-management-api and openvpn-api present in $PY_VENV"
else
  echo "install-deps: pip install openvpn-management-api openvpn-api into $PY_VENV"
  python3 -m venv "$PY_VENV"
  "$PY_VENV/bin/pip" install --quiet 'openvpn-management-api==0.4.0' 'openvpn-api==0.3.0' ||
    echo "install-deps: the Python management clients did not install; their management test will skip" >&2
fi

echo "install-deps: npm ci in $REPO_ROOT"
cd "$REPO_ROOT"
npm ci
# Our N-API addons: dist/tun.node (tun uplink tests) and dist/aead.node (native data-channel crypto and its tests).
echo "install-deps: building the addons"
./build.sh addon || echo "install-deps: an addon build failed; its tests will skip" >&2
echo "install-deps: done"
