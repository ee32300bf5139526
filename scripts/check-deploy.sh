#!/usr/bin/env bash
# check-deploy.sh — checks the deployment offline, without an AWS account:
#   1. installs SAM CLI + cfn-lint (pinned) into a venv of their own, .tools/sam-venv (SAM pins
#      boto3 & co. to versions moto, in .tools/venv, must not be forced onto),
#   2. `sam validate --lint` on template.yaml, then `cfn-lint` with the serverless rules
#      (cfn-lint-serverless) and `checkov`: zero errors, zero warnings, no failed check (a
#      deliberate exception is suppressed in the template, next to its reason),
#   3. `sam build`: every function as an arm64 release binary (cargo lambda build --release
#      --arm64, in the workspace's target/), then checks each is there and prints its size.
# The AWS credentials below are dummies: validate and build never call AWS, but the SDK
# wants a region and credentials to exist.
# Usage: scripts/check-deploy.sh   (or `make check-deploy`)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.tools/venv"          # cargo-lambda, ziglang (install-tools.sh)
SAM_VENV="$ROOT/.tools/sam-venv"  # sam, cfn-lint

# Kept out of install-tools.sh so `make test` (CI) does not pull SAM CLI's ~80 packages.
SAM_REQUIREMENTS=(
  "aws-sam-cli==1.170.0"
  "cfn-lint==1.58.0"
  "cfn-lint-serverless==0.3.6"
)
# checkov pins its own, different versions of boto3 & co.: a venv of its own too.
CHECKOV_VENV="$ROOT/.tools/checkov-venv"
CHECKOV_REQUIREMENT="checkov==3.2.533"

log() { printf '[check-deploy] %s\n' "$*" >&2; }
die() { printf '[check-deploy] ERROR: %s\n' "$*" >&2; exit 1; }

[ -x "$VENV/bin/cargo-lambda" ] || die "$VENV has no cargo-lambda: run scripts/install-tools.sh (make tools) first"

# Same stamp logic as install-tools.sh, with a stamp of its own; recreating the venv drops it.
[ -x "$SAM_VENV/bin/python" ] || python3 -m venv "$SAM_VENV" || die "python3 -m venv failed"
stamp="$SAM_VENV/.deploy-requirements.stamp"
want="$(printf '%s\n' "${SAM_REQUIREMENTS[@]}")"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
   && [ -x "$SAM_VENV/bin/sam" ] && [ -x "$SAM_VENV/bin/cfn-lint" ]; then
  log "venv: SAM requirements present (${SAM_REQUIREMENTS[*]})"
else
  log "venv: pip install ${SAM_REQUIREMENTS[*]}"
  start=$SECONDS
  "$SAM_VENV/bin/python" -m pip install -q --disable-pip-version-check "${SAM_REQUIREMENTS[@]}" \
    || die "pip install failed"
  for exe in sam cfn-lint; do
    [ -x "$SAM_VENV/bin/$exe" ] || die "pip install finished but $SAM_VENV/bin/$exe is missing"
  done
  printf '%s\n' "$want" >"$stamp"
  log "venv: installed in $((SECONDS - start)) s"
fi

[ -x "$CHECKOV_VENV/bin/python" ] || python3 -m venv "$CHECKOV_VENV" || die "python3 -m venv failed"
if [ "$(cat "$CHECKOV_VENV/.stamp" 2>/dev/null)" = "$CHECKOV_REQUIREMENT" ] && [ -x "$CHECKOV_VENV/bin/checkov" ]; then
  log "venv: $CHECKOV_REQUIREMENT present"
else
  log "venv: pip install $CHECKOV_REQUIREMENT"
  "$CHECKOV_VENV/bin/python" -m pip install -q --disable-pip-version-check "$CHECKOV_REQUIREMENT" \
    || die "pip install checkov failed"
  printf '%s\n' "$CHECKOV_REQUIREMENT" >"$CHECKOV_VENV/.stamp"
fi

# The tools venv first: cargo-lambda finds zig through `python3 -m ziglang`, so `python3`
# must be the venv that has ziglang. sam and cfn-lint run from their own venv by shebang.
export PATH="$VENV/bin:$SAM_VENV/bin:$PATH"
command -v cargo >/dev/null 2>&1 || PATH="$HOME/.cargo/bin:$PATH"
command -v cargo >/dev/null 2>&1 || die "cargo not found (install the Rust toolchain first)"
export AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x
export SAM_CLI_TELEMETRY=0

cd "$ROOT"
log "sam validate --lint"
"$SAM_VENV/bin/sam" validate --lint
# By path: the tools venv on PATH may hold another cfn-lint, without the serverless rules.
# cfn-lint exits non-zero on warnings too.
log "cfn-lint with the serverless rules"
"$SAM_VENV/bin/cfn-lint" template.yaml -a cfn_lint_serverless.rules
log "checkov"
"$CHECKOV_VENV/bin/checkov" -f template.yaml --framework cloudformation --compact --quiet \
  --skip-download

# CI only checks that every function builds for arm64 and is wired into the template; the
# deployed profile (fat LTO, one codegen unit) costs ~4x the build time for that check, so
# CHECK_DEPLOY_QUICK=1 (set by .ci/run) builds the same code without LTO or optimisation.
# A real deploy, and `make check-deploy` by hand, keep Cargo.toml's release profile.
if [ "${CHECK_DEPLOY_QUICK:-0}" = 1 ]; then
  export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=0
  log "CHECK_DEPLOY_QUICK=1: release profile without LTO, opt-level 0 (sizes below are not the deployed ones)"
fi
log "sam build (cargo lambda build --release --arm64, one function after the other)"
start=$SECONDS
sam build
log "sam build: $((SECONDS - start)) s"

# Every crate under functions/ must have come out of the build: a crate missing from
# template.yaml would otherwise go unnoticed until someone wonders why it never deployed.
# Logical ids are alphanumeric only, so a crate is found by its BuildProperties.Binary.
declare -A logical_id=()
while read -r id binary; do
  [ -n "${binary:-}" ] && logical_id[$binary]=$id
done < <("$SAM_VENV/bin/python" -c '
from samcli.yamlhelper import yaml_parse
resources = yaml_parse(open("template.yaml").read())["Resources"]
for name, res in resources.items():
    if res.get("Type") == "AWS::Serverless::Function":
        print(name, res.get("Metadata", {}).get("BuildProperties", {}).get("Binary", ""))
')
status=0
printf '%-15s %-15s %10s %6s\n' crate function bytes MiB
for dir in functions/*/; do
  crate="$(basename "$dir")"
  fn="${logical_id[$crate]:-}"
  if [ -z "$fn" ]; then
    printf '%-15s %s\n' "$crate" "NOT IN template.yaml"
    status=1
    continue
  fi
  bin=".aws-sam/build/$fn/bootstrap"
  if [ ! -f "$bin" ]; then
    printf '%-15s %-15s %10s\n' "$crate" "$fn" MISSING
    status=1
    continue
  fi
  # ELF e_machine (bytes 18-19, little endian): b7 00 is aarch64, what arm64 Lambda runs.
  machine="$(od -An -tx1 -j18 -N2 "$bin" | tr -d ' \n')"
  size="$(stat -c %s "$bin")"
  note=""
  [ "$machine" = "b700" ] || { note="  NOT aarch64 (e_machine $machine)"; status=1; }
  printf '%-15s %-15s %10s %6s%s\n' "$crate" "$fn" "$size" \
    "$(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1048576 }')" "$note"
done
[ "$status" -eq 0 ] || die "functions missing from the template or not built for arm64 (see above)"
log "ok: template valid, ${#logical_id[@]} functions built"
