#!/usr/bin/env bash
# Renders a polyarb-report page to a PNG in headless Chromium (Debian's `chromium`, installed with
# apt-get when missing and this runs as root), so a person can look at the page as a browser
# draws it before it is committed or published.
#
# Usage: tools/render-report.sh DIR/index.html OUT.png [WIDTH,HEIGHT]
set -euo pipefail

if (($# < 2)); then
  echo "usage: tools/render-report.sh DIR/index.html OUT.png [WIDTH,HEIGHT]" >&2
  exit 2
fi
page=$1 out=$2 size=${3:-1100,5200}
[[ -f $page ]] || { echo "render-report: no such page: $page" >&2; exit 2; }

if ! command -v chromium >/dev/null 2>&1; then
  if [[ $(id -u) -eq 0 ]]; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
  else
    echo "render-report: needs Debian's chromium (sudo apt-get install chromium)" >&2
    exit 2
  fi
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# The background-networking flags keep Chromium from calling out on a closed network; a fresh
# profile keeps runs independent.
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --window-size="$size" \
  --screenshot="$(realpath -m "$out")" "file://$(realpath "$page")" 2>/dev/null
[[ -s $out ]] || { echo "render-report: chromium wrote no image" >&2; exit 1; }
echo "render-report: $out"
