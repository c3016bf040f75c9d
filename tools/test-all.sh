#!/usr/bin/env bash
# Runs every polyarb check from a fresh clone: installs the pinned toolchain (npm + PyPI only;
# tools/fuzz.sh adds cargo-fuzz from crates.io), then formatting, lints, forge tests, every Rust
# test (unit, property, real-node end-to-end), 15 s of each fuzz target and a lint of the shell
# scripts. This is the README test command; .ci/run calls it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# One build from scratch gains nothing from incremental artefacts, and they double the size of
# target/ (a clean-clone run ran out of disk with them). Set CARGO_INCREMENTAL=1 to keep them.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

step() { printf '\n==> %s\n' "$*" >&2; }

step "toolchain (tools/toolchain/install.sh)"
tools/toolchain/install.sh
forge="$root/tools/toolchain/node_modules/@foundry-rs/forge-linux-amd64/bin/forge"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "forge build + test (contracts/)"
(cd contracts && "$forge" build && "$forge" test)

step "cargo build (binaries the end-to-end tests start)"
cargo build --workspace --bins --locked

step "cargo test (unit, property, anvil end-to-end)"
cargo test --workspace --locked

step "fuzz targets, 15 s each (tools/fuzz.sh; installs cargo-fuzz from crates.io if missing)"
tools/fuzz.sh 15

step "tuning/check.sh --json (a FAIL here is a finding about this host, not a CI failure) + apply.sh --dry-run"
tmpdir=$(mktemp -d)
trap 'rm -rf "$tmpdir"' EXIT
rc=0
tuning/check.sh --json "$tmpdir/tuning.json" || rc=$?
if ((rc > 1)); then
  echo "tuning/check.sh exited $rc (usage error)" >&2
  exit 1
fi
python3 -m json.tool "$tmpdir/tuning.json" >/dev/null
tuning/apply.sh --dry-run --snapshot "$tmpdir/snap"
if [[ -e "$tmpdir/snap" ]]; then
  echo "tuning/apply.sh --dry-run wrote a snapshot" >&2
  exit 1
fi
rm -rf "$tmpdir"
trap - EXIT

step "polyarb-report --quick (the latency report runs end to end; its numbers are not checked)"
report_dir=$(mktemp -d)
cargo run --locked -q -p polyarb-bench --bin polyarb-report -- --quick --out "$report_dir" >/dev/null
for f in index.html summary.txt detection-pipelined.hgrm detection-fused.hgrm; do
  [[ -s $report_dir/$f ]] || { echo "polyarb-report wrote no $f" >&2; exit 1; }
done
rm -rf "$report_dir"

step "shellcheck tuning/, contracts/, tools/ and bench/ scripts"
tools/toolchain/venv/bin/shellcheck -S warning tuning/*.sh contracts/*.sh tools/*.sh bench/*.sh \
    tools/toolchain/install.sh .ci/run

step "all checks passed"
