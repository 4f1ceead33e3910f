#!/usr/bin/env bash
# Headless-Chromium screenshot of a local HTML page (to check a rendered page by eye).
#
#   scripts/screenshot_html.sh PAGE.html [OUT.png] [WIDTHxHEIGHT]
#
# Defaults: OUT.png = /tmp/<page name>.png, size 1400x1000. Needs `chromium` (Debian:
# apt-get install chromium) or `chromium-browser`/`google-chrome` on PATH; it is a tool
# for developers, not a dependency of the project. Network features are switched off, so
# the page must be self-contained (local files only), as the rendered leaderboard is.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 3 ]]; then
  echo "usage: $0 PAGE.html [OUT.png] [WIDTHxHEIGHT]" >&2
  exit 2
fi
page=$(realpath "$1")
[[ -f "$page" ]] || { echo "$0: $1: no such file" >&2; exit 2; }
out=$(realpath -m "${2:-/tmp/$(basename "${page%.*}").png}")
size=${3:-1400x1000}
[[ "$size" =~ ^[0-9]+x[0-9]+$ ]] || { echo "$0: size must look like 1400x1000, got $size" >&2; exit 2; }

browser=""
for candidate in chromium chromium-browser google-chrome; do
  if command -v "$candidate" >/dev/null 2>&1; then browser=$candidate; break; fi
done
[[ -n "$browser" ]] || { echo "$0: no chromium found (apt-get install chromium)" >&2; exit 2; }

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$out"
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --hide-scrollbars --user-data-dir="$profile" --screenshot="$out" --window-size="${size/x/,}" \
  "file://$page" >/dev/null 2>&1 || true
[[ -s "$out" ]] || { echo "$0: chromium wrote no screenshot" >&2; exit 1; }
echo "$out"
