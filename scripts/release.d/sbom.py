#!/usr/bin/env python3
"""Writes a CycloneDX 1.5 SBOM (JSON) of the crates compiled into the given binaries.

From `cargo metadata --locked --filter-platform TARGET`: the packages reachable from the
tool packages through normal dependencies (build scripts and proc macros run at build
time, dev-dependencies never reach a binary; neither is listed), each with its version,
licence expression, source and, for registry crates, the SHA-256 Cargo.lock pins. Sorted,
and timestamped with SOURCE_DATE_EPOCH, so two runs on one commit write the same file.

Picked over `cargo auditable` (which embeds the list in each binary): it needs no extra
tool installed or built here, and a file beside the archive can be read by a scanner
without the binary.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import uuid


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--commit", required=True)
    ap.add_argument("tools", nargs="+")
    args = ap.parse_args()

    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked",
             "--filter-platform", args.target],
            check=True, capture_output=True, text=True,
        ).stdout
    )
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    members = set(meta["workspace_members"])
    roots = [pid for pid in members if packages[pid]["name"] in args.tools]
    missing = set(args.tools) - {packages[pid]["name"] for pid in roots}
    if missing:
        sys.exit(f"sbom.py: no workspace package named {', '.join(sorted(missing))}")

    def is_proc_macro(pid):
        return any("proc-macro" in t["kind"] for t in packages[pid]["targets"])

    seen, todo, edges = set(), list(roots), {}
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        deps = []
        for dep in nodes[pid]["deps"]:
            normal = any(k["kind"] is None for k in dep["dep_kinds"])
            if normal and not is_proc_macro(dep["pkg"]):
                deps.append(dep["pkg"])
                todo.append(dep["pkg"])
        edges[pid] = deps

    checksums = {}
    with open(os.path.join(meta["workspace_root"], "Cargo.lock")) as lock:
        name = version = None
        for line in lock:
            line = line.strip()
            if line == "[[package]]":
                name = version = None
            elif '"' not in line:
                continue
            elif line.startswith("name = "):
                name = line.split('"')[1]
            elif line.startswith("version = "):
                version = line.split('"')[1]
            elif line.startswith("checksum = "):
                checksums[(name, version)] = line.split('"')[1]

    def ref(pid):
        p = packages[pid]
        return f"pkg:cargo/{p['name']}@{p['version']}"

    components = []
    for pid in sorted(seen, key=lambda i: (packages[i]["name"], packages[i]["version"])):
        p = packages[pid]
        c = {
            "type": "application" if pid in roots else "library",
            "bom-ref": ref(pid),
            "name": p["name"],
            "version": p["version"],
            "purl": ref(pid),
        }
        if p.get("license"):
            c["licenses"] = [{"expression": p["license"]}]
        if pid in members:
            c["properties"] = [{"name": "infra:workspace-member", "value": "true"}]
        else:
            # The kind of source only (`registry`, `git`, `path`): the purl already names
            # Cargo's default registry.
            source = (p.get("source") or "path").split("+", 1)[0]
            c["properties"] = [{"name": "cargo:source", "value": source}]
        digest = checksums.get((p["name"], p["version"]))
        if digest:
            c["hashes"] = [{"alg": "SHA-256", "content": digest}]
        components.append(c)

    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    stamp = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    serial = uuid.uuid5(uuid.NAMESPACE_URL, f"{args.name}/{args.version}/{args.commit}/{args.target}")
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{serial}",
        "version": 1,
        "metadata": {
            "timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "component": {
                "type": "application",
                "bom-ref": f"{args.name}@{args.version}",
                "name": args.name,
                "version": args.version,
                "properties": [
                    {"name": "infra:commit", "value": args.commit},
                    {"name": "infra:target", "value": args.target},
                ],
            },
        },
        "components": components,
        "dependencies": [
            {"ref": ref(pid), "dependsOn": sorted({ref(d) for d in edges[pid]})}
            for pid in sorted(seen, key=ref)
        ],
    }
    json.dump(bom, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
