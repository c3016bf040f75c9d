#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ for a set time each and reports what they did.
#
#   tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60 s; all five targets)
#
# Installs cargo-fuzz from crates.io if missing (`cargo install --locked`), writes seed inputs from
# data/sample.rec (tools/fuzz_seeds.py) into target/fuzz-corpus/<target>/ (git-ignored; inputs
# the fuzzer finds stay there for the next run), then runs each target with libFuzzer. Stable
# toolchain: RUSTC_BOOTSTRAP=1 lets cargo-fuzz use the sanitizer flags. A crash leaves its input in
# fuzz/artifacts/<target>/; the script goes on with the other targets and exits 1 at the end.
# What each target checks: docs/fuzzing.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

secs="${1:-60}"
shift || true
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(decode decode_paths ws_codec record_reader rpc_response)
fi
[[ "$secs" =~ ^[0-9]+$ && "$secs" -gt 0 ]] || { echo "fuzz.sh: SECONDS must be a positive integer" >&2; exit 2; }

export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz (crates.io)" >&2
  cargo install cargo-fuzz --locked
fi

corpus="$root/target/fuzz-corpus"
python3 tools/fuzz_seeds.py data/sample.rec "$corpus" >&2

start=$SECONDS
cargo fuzz build >&2
echo "fuzz.sh: built the targets in $((SECONDS - start)) s" >&2

logs="$root/target/fuzz-logs"
mkdir -p "$logs"
failed=()
summary=()
for t in "${targets[@]}"; do
  echo "fuzz.sh: $t for $secs s" >&2
  log="$logs/$t.log"
  # -rss_limit_mb: the codec may legitimately buffer a 64 MiB message; leave room above it.
  if cargo fuzz run "$t" "$corpus/$t" -- -max_total_time="$secs" -print_final_stats=1 \
      -rss_limit_mb=4096 >"$log" 2>&1; then
    result="crashes: none"
  else
    result="FAILED (see $log and fuzz/artifacts/$t/)"
    failed+=("$t")
  fi
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)"
  took="$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n1)"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -n1 || true)"
  files="$(find "$corpus/$t" -type f | wc -l)"
  summary+=("$(printf '%-14s %12s runs in %4s s  %-10s corpus %5s  %s' \
    "$t" "${runs:-?}" "${took:-?}" "${cov:-cov: ?}" "$files" "$result")")
done

echo
echo "fuzz.sh: ${secs} s per target"
printf '%s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: failing targets: ${failed[*]}" >&2
  for t in "${failed[@]}"; do
    grep -m1 -A3 -E "panicked at|ERROR: (libFuzzer|AddressSanitizer)" "$logs/$t.log" >&2 || true
  done
  exit 1
fi
