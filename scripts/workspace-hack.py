#!/usr/bin/env python3
"""workspace-hack.py: checks that every cargo invocation of `make test` builds each dependency
with one set of features (workspace-hack/Cargo.toml says why), and prints what to add if not.

The builds compared (as `cargo tree` resolves them for this machine):
  reference  cargo test --workspace                  (every member, dev-dependencies too)
  backend    cargo test --workspace --exclude steel-sync
  client     cargo test -p steel-sync
  binaries   cargo build / run --bin NAME             (cargo lambda watch, the simulation,
                                                       migrate, dev-token, the Kotlin phase)
Exit 0 when every build has the reference's features for every dependency it shares with it;
exit 1 with the dependency lines to merge into workspace-hack/Cargo.toml otherwise.
Run from anywhere: `python3 scripts/workspace-hack.py` (test.sh runs it after clippy).
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cargo(args):
    out = subprocess.run(["cargo", *args, "--locked"], cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"cargo {' '.join(args)} failed:\n{out.stderr}")
    return out.stdout


def features(selection):
    """(name, version) -> the feature sets it is built with (a build script's or proc macro's
    dependency can be built a second time, with features of its own)."""
    tree = cargo(["tree", "--prefix", "none", "-f", "{p} {f}", *selection])
    found = {}
    for line in tree.splitlines():
        parts = line.split()
        if len(parts) < 2 or not parts[1].startswith("v"):
            continue
        names = set()
        for word in parts[2:]:
            if not word.startswith("("):
                names.update(f for f in word.split(",") if f)
        found.setdefault((parts[0], parts[1][1:]), set()).add(frozenset(names))
    return found


def main():
    members = {p["name"] for p in json.loads(cargo(["metadata", "--no-deps", "--format-version", "1"]))["packages"]}
    reference = features(["--workspace", "-e", "normal,build,dev"])
    builds = {
        "backend": ["--workspace", "--exclude", "steel-sync", "-e", "normal,build,dev"],
        "client": ["-p", "steel-sync", "-e", "normal,build,dev"],
        "binaries": ["--workspace", "-e", "normal,build"],
    }
    missing = {}
    for name, selection in builds.items():
        for key, have in features(selection).items():
            want = reference.get(key)
            if want is None or key[0] in members or have <= want:
                continue
            for variant in have - want:
                print(f"{name}: {key[0]} {key[1]} built with {sorted(variant)}, not as the workspace builds it", file=sys.stderr)
            missing[key] = set().union(*want)
    if not missing:
        print("workspace-hack: every build of make test has one feature set per dependency")
        return 0
    print("workspace-hack: merge these into workspace-hack/Cargo.toml, under [dependencies], or")
    print("[build-dependencies] for a crate a build script or proc macro uses:")
    for (name, version), want in sorted(missing.items()):
        listed = ", ".join(f'"{f}"' for f in sorted(want) if f != "default" and not f.startswith("dep:"))
        default = "true" if "default" in want else "false"
        version = version.split("+")[0]
        print(f'{name} = {{ version = "{version}", default-features = {default}, features = [{listed}] }}')
    return 1


if __name__ == "__main__":
    sys.exit(main())
