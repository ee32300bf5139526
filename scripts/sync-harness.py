#!/usr/bin/env python3
"""sync-harness.py: repeatable timings of `steel-sync sync`, plaintext against end-to-end
encrypted, on the local stack; the figures behind BENCHMARKS.md part 2's hand notes of
session 31. Not part of `make test` or `make bench`: a tool for finding where time goes.

It sets up two accounts with the same 10,000 notes of 1-7 KB (one encrypted with
`steel-sync encrypt`), then times repeated syncs of each, interleaved, and prints medians.
`first` puts back the `sync.db` saved right after the upload before each run, so the first
no-change sync (the one that reads back the device's own 10,000 versions) can be repeated.

Usage, with the functions built in the bench profile:
  cargo build --profile bench-fast --bin steel-sync --bin dev-token
  DEV_PROFILE=bench-fast scripts/with-dev-stack.sh python3 scripts/sync-harness.py setup
  ... sync-harness.py first 15   # first no-change sync (sync.db put back each time)
  ... sync-harness.py time 9     # no-change sync, empty delta
  ... sync-harness.py one 9      # one note edited, then synced
  ... sync-harness.py second 3   # a new device's first sync (downloads everything)
Run `first` before any `one`: versions pushed after the saved `sync.db` are not recorded
in it, and the put-back state then reads its own notes in full (more requests).
Each command needs the stack `setup` ran against (the same STEEL_API_URL and database):
run them in one `with-dev-stack.sh` shell (`... with-dev-stack.sh bash`), or keep a stack up.
FLAT=1 lays the notes out as part 2 does (2,500 per seed folder), else 25 per subfolder.
The vaults live in $SYNC_HARNESS_DIR (default /tmp/sync-harness).
"""
import os
import random
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BIN", ROOT + "/target/bench-fast/steel-sync")
TOKEN_BIN = ROOT + "/target/bench-fast/dev-token"
W = os.environ.get("SYNC_HARNESS_DIR", "/tmp/sync-harness")
API = os.environ.get("STEEL_API_URL", "")
PASS = "bench passphrase, long enough"
FOLDERS = ["sources", "thoughts", "questions", "syntheses"]
MODES = ["plain", "enc"]


def run(args, inp=None):
    r = subprocess.run(args, input=inp, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{args}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r.stdout


def token(sub):
    return run([TOKEN_BIN, "--sub", sub]).strip()


def note_path(root, i):
    if os.environ.get("FLAT") == "1":
        return os.path.join(root, FOLDERS[i % 4], f"note-{i:05d}.md")
    return os.path.join(root, FOLDERS[i % 4], f"folder-{i % 100:03d}", f"note-{i:05d}.md")


def write_notes(root, n=10000):
    rnd = random.Random(7)
    for i in range(n):
        p = note_path(root, i)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        body = "".join(rnd.choice("abcdefghij klmnop\n") for _ in range(rnd.randint(1000, 7000)))
        with open(p, "w") as f:
            f.write(f"# note {i}\n" + body)


def sync(vault):
    started = time.time()
    out = run([BIN, "sync", vault, "--quiet", "--stats"])
    stats = [line for line in out.splitlines() if line.startswith("stats:")]
    return time.time() - started, stats[0] if stats else ""


def encrypt(vault):
    """`steel-sync encrypt` as a person answers it: the passphrase twice, then the last group
    of the recovery code it shows."""
    p = subprocess.Popen([BIN, "encrypt", vault], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    p.stdin.write(f"{PASS}\n{PASS}\n")
    p.stdin.flush()
    last = None
    for line in p.stdout:
        groups = line.strip().split("-")
        if len(groups) == 7 and all(len(g) == 5 for g in groups):
            last = groups[6]
            break
    if last is None:
        sys.exit("steel-sync encrypt showed no recovery code")
    p.stdin.write(last + "\n")
    p.stdin.close()
    p.stdout.read()
    if p.wait() != 0:
        sys.exit("steel-sync encrypt: " + p.stderr.read())


def setup():
    if not API:
        sys.exit("STEEL_API_URL is not set: run through scripts/with-dev-stack.sh")
    subprocess.run(["rm", "-rf", W], check=True)
    sub = f"harness-{int(time.time())}-"
    for mode in MODES:
        vault = os.path.join(W, mode)
        os.makedirs(vault)
        write_notes(vault)
        run([BIN, "login", vault, "--api", API, "--dev-token", token(sub + mode),
             "--device-name", mode])
    with open(os.path.join(W, "sub"), "w") as f:
        f.write(sub)
    encrypt(os.path.join(W, "enc"))
    for mode in MODES:
        vault = os.path.join(W, mode)
        secs, stats = sync(vault)
        print(mode, f"upload: {secs:.3f} s;", stats)
        subprocess.run(f"mkdir -p {W}/{mode}.snap && rm -f {W}/{mode}.snap/* && "
                       f"cp {vault}/.steel/sync.db* {W}/{mode}.snap/", shell=True, check=True)
        secs, stats = sync(vault)
        print(mode, f"first no-change: {secs:.3f} s;", stats)


def report(results):
    for mode, runs in results.items():
        runs.sort()
        secs, stats = runs[len(runs) // 2]
        print(f"{mode}: median {secs:.3f} s of", " ".join(f"{s:.3f}" for s, _ in runs))
        print("   the median run's", stats)


def repeat(runs, before=None):
    results = {}
    for i in range(runs):
        for mode in MODES:
            vault = os.path.join(W, mode)
            if before:
                before(mode, vault, i)
            results.setdefault(mode, []).append(sync(vault))
    report(results)


def put_back_sync_db(mode, vault, _):
    subprocess.run(f"rm -f {vault}/.steel/sync.db* && cp {W}/{mode}.snap/* {vault}/.steel/",
                   shell=True, check=True)


def edit_one(_, vault, i):
    with open(note_path(vault, 1), "a") as f:
        f.write(f"\nedit {i} {time.time()}\n")


def second(runs):
    with open(os.path.join(W, "sub")) as f:
        sub = f.read()
    results = {}
    for i in range(runs):
        for mode in MODES:
            vault = os.path.join(W, f"second-{mode}-{i}")
            subprocess.run(["rm", "-rf", vault], check=True)
            os.makedirs(vault)
            run([BIN, "login", vault, "--api", API, "--dev-token", token(sub + mode),
                 "--device-name", f"second-{i}"])
            if mode == "enc":
                run([BIN, "unlock", vault], inp=PASS + "\n")
            results.setdefault(mode, []).append(sync(vault))
            subprocess.run(["rm", "-rf", vault], check=True)
    report(results)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    mode, runs = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 9
    if mode == "setup":
        setup()
    elif mode == "first":
        repeat(runs, put_back_sync_db)
    elif mode == "time":
        repeat(runs)
    elif mode == "one":
        repeat(runs, edit_one)
    elif mode == "second":
        second(runs)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
