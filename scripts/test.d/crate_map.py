#!/usr/bin/env python3
"""Fails when a workspace crate imports a workspace crate the crate map does not allow.

The map is the table under "## Crate map" in ARCHITECTURE.md: one row per crate, its
package name in the first column (in backticks) and, in the last, the workspace crates it
may import (in backticks; "nothing" for none). A crate's imports are its normal and build
dependencies that are workspace members (`cargo metadata`); dev-dependencies (tests) are
not part of the map. Also fails when a workspace crate has no row, or a row names a crate
that does not exist, so the map cannot fall behind the workspace.

    python3 scripts/test.d/crate_map.py [ARCHITECTURE.md]
"""
import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
NAME = re.compile(r"`([a-z0-9-]+)`")


def read_map(path):
    rows, in_map = {}, False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("## "):
            in_map = line.strip() == "## Crate map"
            continue
        if not in_map or not line.startswith("|") or set(line) <= set("|- :"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        crate = NAME.fullmatch(cells[0])
        if crate is None:
            continue  # the header row
        rows[crate.group(1)] = (set(NAME.findall(cells[-1])), number)
    return rows


def main():
    doc = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "ARCHITECTURE.md"
    allowed = read_map(doc)
    if not allowed:
        print(f"crate map: no table under '## Crate map' in {doc}", file=sys.stderr)
        return 1
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--no-deps", "--locked"],
            cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout
    )
    members = {p["name"]: p for p in meta["packages"]}
    failures = []
    for name, package in sorted(members.items()):
        if name not in allowed:
            failures.append(f"{name}: not in the crate map ({doc.name}); add its row")
            continue
        may, line = allowed[name]
        for dep in package["dependencies"]:
            if dep["kind"] == "dev" or dep["name"] not in members:
                continue
            if dep["name"] not in may:
                failures.append(
                    f"{name} imports {dep['name']}: the crate map ({doc.name}:{line}) allows "
                    + (", ".join(sorted(may)) or "no workspace crate")
                )
    for name, (_, line) in sorted(allowed.items()):
        if name not in members:
            failures.append(f"{doc.name}:{line}: the crate map names {name}, which is not a workspace crate")
    for failure in failures:
        print(f"crate map: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
