#!/usr/bin/env bash
# Installs exactly the Debian 12 packages the build needs. Idempotent: quiet and quick when all
# are present. Usage: scripts/install-deps.sh [--with-fuzz]
set -euo pipefail

packages=(
  cmake ninja-build g++ make pkg-config ccache
  libboost-dev            # Asio/Beast (header-only); never libboost-all-dev
  libssl-dev openssl      # OpenSSL 3: SHA-256, HMAC, TLS; the CLI makes test certificates
  libsqlite3-dev sqlite3  # the default store; the sqlite3 shell is used by tests to corrupt files
  libpq-dev postgresql-15 # the PostgreSQL store (libpq); the server for its tests (scripts/pg-test-server.sh)
  haproxy curl            # scripts/cluster.sh: the load balancer in front of paymentd nodes
  jq                      # docs/api.md's runnable examples (ctest api_doc_blocks) pick fields out of answers
  python3 python3-yaml python3-jsonschema  # tests/docs/openapi_test.py: docs/openapi.yaml against the server
  libzstd-dev             # stored answers compressed against a dictionary (core/answer_codec.h)
  libprotobuf-dev protobuf-compiler  # proto/ schema, JSON mapping
  libcli11-dev            # paymentctl argument parsing
  libtomlplusplus-dev     # velocity rules configuration (TOML)
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev  # libFuzzer targets and sanitizer runtime
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# tests/stripe and tests/mcp run the official stripe and MCP SDK clients (npm ci there). A machine
# whose Node came with its own npm (NodeSource's nodejs conflicts with Debian's npm) keeps it.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
# tests/dashboard drives Debian's chromium headless (puppeteer-core downloads no browser).
if ! command -v chromium >/dev/null; then
  missing+=(chromium fonts-liberation)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
