#!/usr/bin/env bash
# demo-browser.sh: open the demo's picture (demo-traffic.svg, written by
# `make demo`) in a real browser, headless Chromium, and check the
# screenshot shows the chart: bar-coloured pixels in quantity.  Run by
# `make demo-browser`; not part of `make test` (Chromium is a large
# optional dependency: Debian package chromium).  Leaves the screenshot in
# demo-traffic.png next to the SVG.
set -euo pipefail

cd "$(dirname "$0")/.."
svg=$PWD/demo-traffic.svg
png=$PWD/demo-traffic.png
chromium=${CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$chromium" ]; then
	echo "demo-browser: $chromium not found; install it (as root): apt-get install chromium" >&2
	exit 1
fi
if [ ! -s "$svg" ]; then
	echo "demo-browser: $svg is missing; run make demo first" >&2
	exit 1
fi

profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
width=$(sed -n 's/.*<svg [^>]*width="\([0-9]*\)".*/\1/p' "$svg" | head -n 1)
height=$(sed -n 's/.*<svg [^>]*height="\([0-9]*\)".*/\1/p' "$svg" | head -n 1)
rm -f "$png"
"$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
	--disable-component-update --no-first-run --disable-sync \
	--user-data-dir="$profile" --hide-scrollbars \
	--window-size="${width:-960},${height:-360}" \
	--screenshot="$png" "file://$svg" >/dev/null 2>"$profile/chromium.log" || {
	tail -n 20 "$profile/chromium.log" >&2
	echo "demo-browser: chromium failed" >&2
	exit 1
}
if [ ! -s "$png" ]; then
	tail -n 20 "$profile/chromium.log" >&2
	echo "demo-browser: chromium wrote no screenshot" >&2
	exit 1
fi
pixels=$(python3 test/svg_pixels.py count "$png")
if [ "$pixels" -lt 2000 ]; then
	echo "demo-browser: the screenshot $png shows almost no bars ($pixels bar pixels)" >&2
	exit 1
fi
echo "demo-browser: Chromium drew $svg: $pixels bar pixels; screenshot in $png"
