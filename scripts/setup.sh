#!/bin/sh
# Installs the Debian packages iommusim needs; does nothing when all are present.
# Usage: scripts/setup.sh            (run as root, or with sudo available)
set -e
PKGS="build-essential cmake pkg-config libsystemc-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
      catch2 libboost-dev libcli11-dev libbenchmark-dev"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "setup: installing$missing" >&2
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
