#!/usr/bin/env bash
# Speed of one pass over the V2-only sample (decode + update + search + sign, the pipeline
# bench's `sample_pass/decode_update_search_sign`) at a previous commit and now, in one run:
# criterion saves the previous commit's numbers as baseline `previous` and reports the current
# build's change against it (the "change:" line, with its p-value).
#
#   bench/compare-previous.sh [BASE]      BASE: a commit (default HEAD~1)
#
# The V2-only sample is bench/data/v2-sample.* (the shipped sample before it gained concentrated
# pools, kept as a fixture); it replaces BASE's data/sample.* in a temporary worktree, so any BASE
# that reads a version-1 snapshot works. Builds the bench twice (several minutes each on two
# cores); check `uptime` first: numbers from a loaded machine compare badly.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
base="${1:-HEAD~1}"
cd "$root"
base_sha="$(git rev-parse --verify "$base^{commit}")"
work="$(mktemp -d)"
results="$root/target/compare-previous"
trap 'git -C "$root" worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

echo "load: $(uptime)"
echo "baseline: $base ($base_sha)"
git worktree add --detach "$work/base" "$base_sha" >/dev/null
for ext in rec snapshot.json toml; do
    cp "bench/data/v2-sample.$ext" "$work/base/data/sample.$ext"
done
rm -rf "$results"
mkdir -p "$results"

filter='sample_pass/decode_update_search_sign$'
echo "==> $base: building and measuring"
(cd "$work/base" && CRITERION_HOME="$results" CARGO_TARGET_DIR="$work/target" \
    cargo bench -p polyarb-bench --bench pipeline -- --save-baseline previous "$filter")
echo "==> working tree: building and measuring against it"
CRITERION_HOME="$results" POLYARB_BENCH_SAMPLE="$root/bench/data/v2-sample" \
    cargo bench -p polyarb-bench --bench pipeline -- --baseline previous "$filter"
