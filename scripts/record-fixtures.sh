#!/bin/sh
# Re-records the oracle fixtures under tests/fixtures/oracle from the real Linux kernel.
# Needs ../shared/linux-oracle (run its setup.sh once) and pciutils (for the -vvv decode).
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
oracle=${ORACLE:-$top/../shared/linux-oracle}
fx=$top/tests/fixtures/oracle
work=$(mktemp -d)
cp -r "$oracle" "$work/oracle" && chmod -R u+w "$work/oracle"
(cd "$work/oracle" && ./setup.sh >/dev/null && python3 groups.py "$fx"/topologies/*.json --outdir "$work/results" -j 2)
cp "$work"/results/*.json "$fx/raw/"
python3 "$oracle/to_lspci.py" "$fx" "$fx"/raw/*.json
rm -rf "$work"
