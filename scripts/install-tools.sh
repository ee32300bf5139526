#!/usr/bin/env bash
# install-tools.sh — installs the local test tooling into $ROOT/.tools (git-ignored):
#   .tools/bin/s3s-fs   S3 server that checks SigV4 (cargo install, pinned)
#   .tools/venv         Python venv with moto[server] (SQS), cargo-lambda and ziglang (pinned)
#   PostgreSQL server binaries from Debian (apt) when no /usr/lib/postgresql/*/bin/initdb exists.
#   .tools/kotlin       Kotlin compiler from npm (pinned), and JNA from Debian (libjna-java),
#                       for the apps' bindings (scripts/kotlin-test.sh)
# Idempotent: whatever is already installed at the pinned versions is reused.
# Usage: scripts/install-tools.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
VENV="$TOOLS/venv"

S3S_FS_VERSION="0.14.1"          # 0.15+ needs Rust 1.96
PY_REQUIREMENTS=(
  "moto[server]==5.2.5"
  "cargo-lambda==1.9.2"
  "ziglang==0.14.1"
)

log() { printf '[install-tools] %s\n' "$*" >&2; }
die() { printf '[install-tools] ERROR: %s\n' "$*" >&2; exit 1; }

# --- apt helper (root on CI; sudo if available otherwise) --------------------------------
APT_UPDATED=0
apt_install() {
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to apt-get install $*"
    sudo=(sudo)
  fi
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install manually: $*"
  if [ "$APT_UPDATED" -eq 0 ]; then
    log "apt-get update"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update failed"
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
    || die "apt-get install $* failed"
}

mkdir -p "$TOOLS/bin"

# --- PostgreSQL server binaries ----------------------------------------------------------
if compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  log "postgresql: present ($(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1))"
else
  # Debian's postgresql-NN postinst creates and starts a "main" cluster on port 5432; we don't
  # want it, so install postgresql-common first and switch off create_main_cluster.
  apt_install postgresql-common
  conf=/etc/postgresql-common/createcluster.conf
  if [ -f "$conf" ]; then
    sudo_cmd=()
    [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
    "${sudo_cmd[@]}" sed -i -E 's/^#?[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' "$conf"
    grep -q '^create_main_cluster = false' "$conf" \
      || echo 'create_main_cluster = false' | "${sudo_cmd[@]}" tee -a "$conf" >/dev/null
  fi
  apt_install postgresql postgresql-client
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || die "postgresql installed but no initdb found"
  log "postgresql: installed"
fi
command -v psql >/dev/null 2>&1 || apt_install postgresql-client
command -v runuser >/dev/null 2>&1 || apt_install util-linux

# --- s3s-fs ------------------------------------------------------------------------------
if [ -x "$TOOLS/bin/s3s-fs" ]; then
  log "s3s-fs: present"
else
  if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] && PATH="$HOME/.cargo/bin:$PATH"
    command -v cargo >/dev/null 2>&1 || die "cargo not found (install the Rust toolchain first)"
  fi
  command -v cc >/dev/null 2>&1 || apt_install build-essential
  log "s3s-fs: cargo install s3s-fs $S3S_FS_VERSION (compiles for a couple of minutes)..."
  start=$SECONDS
  cargo install s3s-fs --version "$S3S_FS_VERSION" --features binary --locked --root "$TOOLS" \
    || die "cargo install s3s-fs failed"
  [ -x "$TOOLS/bin/s3s-fs" ] || die "cargo install finished but $TOOLS/bin/s3s-fs is missing"
  log "s3s-fs: installed in $((SECONDS - start)) s"
fi

# --- Python venv -------------------------------------------------------------------------
PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null 2>&1 || die "$PY not found"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  log "venv: creating $VENV"
  rm -rf "$VENV"
  if ! "$PY" -m venv "$VENV" >/dev/null 2>&1; then
    # Debian's python3 ships venv/ensurepip in a separate package.
    rm -rf "$VENV"
    pyver="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    apt_install python3-venv "python${pyver}-venv"
    "$PY" -m venv "$VENV" || die "python3 -m venv failed"
  fi
fi

stamp="$VENV/.requirements.stamp"
want="$(printf '%s\n' "${PY_REQUIREMENTS[@]}")"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
   && [ -x "$VENV/bin/moto_server" ] && [ -x "$VENV/bin/cargo-lambda" ]; then
  log "venv: requirements present (${PY_REQUIREMENTS[*]})"
else
  log "venv: pip install ${PY_REQUIREMENTS[*]}"
  start=$SECONDS
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip \
    || die "pip upgrade failed"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${PY_REQUIREMENTS[@]}" \
    || die "pip install failed"
  for exe in moto_server cargo-lambda; do
    [ -x "$VENV/bin/$exe" ] || die "pip install finished but $VENV/bin/$exe is missing"
  done
  printf '%s\n' "$want" >"$stamp"
  log "venv: installed in $((SECONDS - start)) s"
fi

# --- Kotlin and JNA (the apps' bindings: scripts/kotlin-test.sh) -------------------------
# JetBrains' compiler distribution from npm (kotlinc + stdlib + kotlinx-coroutines jars: no
# Maven Central here) and Debian's JNA (>= 5.12, as UniFFI's Kotlin needs).
KOTLIN_VERSION="2.4.20"
KOTLIN_HOME="$TOOLS/kotlin/node_modules/kotlin-compiler"
if [ -x "$KOTLIN_HOME/bin/kotlinc" ] \
   && grep -q "\"version\": \"$KOTLIN_VERSION\"" "$KOTLIN_HOME/package.json" 2>/dev/null; then
  log "kotlin: present ($KOTLIN_VERSION)"
else
  command -v npm >/dev/null 2>&1 || apt_install npm
  command -v java >/dev/null 2>&1 || apt_install default-jdk-headless
  log "kotlin: npm install kotlin-compiler@$KOTLIN_VERSION"
  mkdir -p "$TOOLS/kotlin"
  npm install --prefix "$TOOLS/kotlin" --no-audit --no-fund --silent "kotlin-compiler@$KOTLIN_VERSION" \
    || die "npm install kotlin-compiler failed"
  [ -x "$KOTLIN_HOME/bin/kotlinc" ] || die "npm install finished but $KOTLIN_HOME/bin/kotlinc is missing"
fi
if [ -f /usr/share/java/jna.jar ]; then
  log "jna: present (/usr/share/java/jna.jar)"
else
  apt_install libjna-java
fi

log "done: s3s-fs=$TOOLS/bin/s3s-fs venv=$VENV kotlinc=$KOTLIN_HOME/bin/kotlinc (cargo lambda: PATH=$VENV/bin:\$PATH)"
