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
for ext in rec snapshot.json; do
    cp "bench/data/v2-sample.$ext" "$work/base/data/sample.$ext"
done
# Commits from before pool kinds (e2cd181 and older) know no `[[dexes]] kind`: give them the
# config without it, as their own sample's config was.
if grep -q '^kind = ' "$work/base/data/sample.toml"; then
    cp bench/data/v2-sample.toml "$work/base/data/sample.toml"
else
    grep -v '^kind = ' bench/data/v2-sample.toml >"$work/base/data/sample.toml"
fi
rm -rf "$results"
mkdir -p "$results"

filter='sample_pass/decode_update_search_sign$'
echo "==> $base: building and measuring"
(cd "$work/base" && CRITERION_HOME="$results" CARGO_TARGET_DIR="$work/target" \
    cargo bench -p polyarb-bench --bench pipeline -- --save-baseline previous "$filter")
# Like for like: the foundation searched cycles of at most 3 hops and sent one route per pool
# update; today's defaults are 4 and 4 (more cycles, more routes, more signing). With
# COMPARE_DEFAULTS=1 the working tree runs its defaults instead.
mkdir -p "$work/current"
cp bench/data/v2-sample.rec bench/data/v2-sample.snapshot.json "$work/current/"
if [ "${COMPARE_DEFAULTS:-0}" = 1 ]; then
    cp bench/data/v2-sample.toml "$work/current/"
else
    sed 's/^\[search\]$/[search]\nmax_routes = 1\nmax_hops = 3/' bench/data/v2-sample.toml \
        >"$work/current/v2-sample.toml"
fi
echo "==> working tree: building and measuring against it"
CRITERION_HOME="$results" POLYARB_BENCH_SAMPLE="$work/current/v2-sample" \
    cargo bench -p polyarb-bench --bench pipeline -- --baseline previous "$filter"
