#!/usr/bin/env bash
# Installs everything Passerelle needs on Debian 12 (as root, or with sudo available):
# the system packages (broker, pcscd + vpcd, build deps of pyscard, the fleet tests' engines), then a venv
# locked by uv.lock.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(
    python3 python3-venv python3-dev gcc pkg-config
    mosquitto mosquitto-clients
    pcscd vsmartcard-vpcd pcsc-tools libpcsclite-dev swig
    util-linux systemd xkb-data openssl
    nats-server rabbitmq-server  # fleet tests start their own clusters/nodes on loopback (tests/engines.py)
)
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
echo "setup: ready (.venv)"
