#!/usr/bin/env python3
"""Fails when an ELF binary needs a glibc symbol version newer than --max.

Reads the binary's dynamic symbol versions with `readelf --dyn-syms --wide` (binutils),
which reads any ELF whatever its machine (objdump here reads only this machine's), and
looks for GLIBC_X.Y[.Z]. Prints the newest version needed; exits 1 naming every symbol
that needs more than --max, 2 when the binary cannot be read.
"""
import argparse
import re
import subprocess
import sys

VERSION = re.compile(r"@+GLIBC_([0-9]+(?:\.[0-9]+)+)")


def parse(text):
    return tuple(int(part) for part in text.split("."))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max", required=True, help="e.g. 2.31")
    ap.add_argument("binary")
    args = ap.parse_args()
    limit = parse(args.max)
    run = subprocess.run(["readelf", "--dyn-syms", "--wide", args.binary],
                         capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"glibc.py: readelf cannot read {args.binary}: {run.stderr.strip()}")
    needed = {}
    for line in run.stdout.splitlines():
        m = VERSION.search(line)
        if m:
            symbol = next(w for w in line.split() if "@GLIBC_" in w).split("@")[0]
            needed.setdefault(m.group(1), set()).add(symbol)
    if not needed:
        # A static binary needs none; a dynamic one without versions is not glibc's.
        print(f"{args.binary}: no glibc symbol versions")
        return
    newest = max(needed, key=parse)
    too_new = sorted((v for v in needed if parse(v) > limit), key=parse)
    if too_new:
        for v in too_new:
            print(f"glibc.py: {args.binary} needs GLIBC_{v} (> {args.max}) for "
                  + ", ".join(sorted(needed[v])), file=sys.stderr)
        sys.exit(1)
    print(f"{args.binary}: needs GLIBC_{newest} at most (limit {args.max})")


if __name__ == "__main__":
    main()
