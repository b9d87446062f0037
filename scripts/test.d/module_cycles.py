#!/usr/bin/env python3
"""Fails when a library crate's top-level modules import each other in a circle.

A module is a file `src/NAME.rs` or a directory `src/NAME/`; an import of module B by
module A is any `crate::B` (or `use crate::{B, ...}`) in A's files. Submodules are folded
into their top-level module (`plan/service.rs` belongs to `plan`). Prints every cycle found,
as `crate: a -> b -> a`, and exits 1; exits 0 when the graph of every crate is acyclic.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
CRATE_REF = re.compile(r"\bcrate::(\{[^}]*\}|[a-z_][a-z0-9_]*)")


def modules(src):
    found = {}
    for path in sorted(src.rglob("*.rs")):
        rel = path.relative_to(src)
        top = rel.parts[0]
        if top.endswith(".rs"):
            top = top[:-3]
        if top in ("lib", "main"):
            continue
        found.setdefault(top, []).append(path)
    return found


def strip_comments(text):
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def imports(files, names):
    out = set()
    for path in files:
        text = strip_comments(path.read_text())
        for m in CRATE_REF.finditer(text):
            group = m.group(1)
            parts = group.strip("{}").split(",") if group.startswith("{") else [group]
            for part in parts:
                name = part.strip().split("::")[0].strip()
                if name in names:
                    out.add(name)
    return out


def cycles(graph):
    seen, stack, on_stack, found = set(), [], set(), []

    def visit(node):
        seen.add(node)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt in on_stack:
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in seen:
                visit(nxt)
        stack.pop()
        on_stack.discard(node)

    for node in sorted(graph):
        if node not in seen:
            visit(node)
    return found


def main():
    bad = []
    for manifest in sorted((ROOT / "crates").glob("*/Cargo.toml")):
        src = manifest.parent / "src"
        mods = modules(src)
        graph = {name: imports(files, mods) - {name} for name, files in mods.items()}
        for cycle in cycles(graph):
            bad.append(f"{manifest.parent.name}: {' -> '.join(cycle)}")
    for line in bad:
        print(f"module cycle: {line}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
