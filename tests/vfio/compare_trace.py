#!/usr/bin/env python3
"""Run a VFIO client built against iommusim (with tests/vfio/trace) and compare its trace, call for call,
with a trace recorded from the real Linux 6.1 kernel by the vfio-oracle (tests/fixtures/vfio-oracle).

Normalised on both sides, because they are facts of the machine rather than of VFIO: the mmap'ed address,
IOMMU group numbers (renumbered in order of appearance), the "[driver now: ...]" note and "SHIM" lines of
the oracle's shim, iommusim_dma (emulated on the real side). With --qemu-iommu also what reflects QEMU's
emulated IOMMU instead of our platform's: address width (the end of the last IOVA range), the IOMMU page
sizes, and CHECK_EXTENSION(VFIO_DMA_CC_IOMMU) (QEMU's VT-d has no snoop control).
usage: compare_trace.py --oracle FILE [--until REGEX] [--qemu-iommu] -- PROGRAM ARGS...
"""
import argparse
import difflib
import re
import subprocess
import sys


def program_part(text):
    lines = text.splitlines()
    start = next((i + 1 for i, l in enumerate(lines) if re.match(r"^---- /\S+ output ----$", l)), 0)
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("EXIT ")), len(lines))
    return lines[start:end]


def normalise(lines, until, qemu):
    groups = {}

    def gid(n):
        groups.setdefault(n, "G%d" % len(groups))
        return groups[n]

    out = []
    for l in lines:
        if until and re.search(until, l):
            break
        if l.startswith("SHIM ") or l.startswith("SKIP-EMULATED") or l.startswith("CALL dma("):
            continue
        if not (l.startswith("CALL") or l.startswith("  ") or l.startswith("#") or l.startswith("RESULT")):
            continue
        l = re.sub(r" \[driver now: [^\]]*\]", "", l)
        l = re.sub(r"mmap\((\d+)\) = 0x[0-9a-f]+", r"mmap(\1) = PTR", l)
        l = re.sub(r"(iommu_group\([^)]*\) -> )(\d+)", lambda m: m.group(1) + gid(m.group(2)), l)
        l = re.sub(r"(/dev/vfio/)(\d+)", lambda m: m.group(1) + gid(m.group(2)), l)
        l = re.sub(r"(group_id=)(\d+)", lambda m: m.group(1) + gid(m.group(2)), l)
        if l.startswith("RESULT groups:"):
            l = re.sub(r"(=)(\d+)", lambda m: m.group(1) + gid(m.group(2)), l)
        if qemu:
            l = re.sub(r"iova_pgsizes=0x[0-9a-f]+", "iova_pgsizes=*", l)
            l = re.sub(r"-0x[0-9a-f]+\] next=0", "-END] next=0", l)
            l = re.sub(r"^(CALL VFIO_CHECK_EXTENSION\(4\) -> )\d", r"\1*", l)
        out.append(l)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oracle", required=True)
    ap.add_argument("--until")
    ap.add_argument("--qemu-iommu", action="store_true")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    run = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    if run.returncode != 0:
        sys.stdout.write(run.stdout)
        sys.stderr.write(run.stderr)
        print("program exited with %d" % run.returncode)
        return 1
    with open(a.oracle) as f:
        real = normalise(program_part(f.read()), a.until, a.qemu_iommu)
    ours = normalise(run.stdout.splitlines(), a.until, a.qemu_iommu)
    diff = list(difflib.unified_diff(real, ours, "linux-6.1 (" + a.oracle + ")", "iommusim", lineterm="", n=2))
    if diff:
        print("\n".join(diff))
        print("%d of %d real-kernel lines differ" % (sum(1 for d in diff if d.startswith("-") and not d.startswith("---")), len(real)))
        return 1
    print("identical: %d lines" % len(real))
    return 0


if __name__ == "__main__":
    sys.exit(main())
