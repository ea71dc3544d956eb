#!/usr/bin/env bash
# Installs everything Passerelle needs on Debian 12 (as root, or with sudo available):
# the system packages (broker, pcscd + vpcd, build deps of pyscard, chromium and node for the
# TypeScript client's tiers, the Debian package tools, the fleet tests' engines), then a venv locked by
# uv.lock and clients/js's package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(
    python3 python3-venv python3-dev gcc pkg-config
    mosquitto mosquitto-clients
    pcscd vsmartcard-vpcd pcsc-tools libpcsclite-dev swig
    util-linux systemd xkb-data openssl
    chromium
    dpkg-dev binutils lintian mmdebstrap zstd   # scripts/package.sh and tests/packaging
    nats-server rabbitmq-server  # fleet tests start their own clusters/nodes on loopback (testing/engines.py)
)
# The TypeScript client's build and tests need node >= 18 with npm: Debian's, unless one is installed.
command -v node >/dev/null && command -v npm >/dev/null || apt_packages+=(nodejs npm)
missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    echo "setup: installing Debian packages: ${missing[*]}"
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# uv itself comes from PyPI into a private tools venv; the project venv is exactly what uv.lock says.
if [ ! -x .tools/bin/uv ]; then
    python3 -m venv .tools
    .tools/bin/pip install -q "uv==0.13.9"
fi
UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=.venv .tools/bin/uv sync --frozen --quiet
# The TypeScript client (clients/js): exactly what its package-lock.json says, reinstalled only when
# the lock changes.
if ! cmp -s clients/js/package-lock.json clients/js/node_modules/.installed-lock; then
    # --ignore-scripts: the only install script in the tree is an analytics beacon (@scarf/scarf).
    (cd clients/js && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    cp clients/js/package-lock.json clients/js/node_modules/.installed-lock
fi
echo "setup: ready (.venv, clients/js/node_modules)"
