#!/usr/bin/env bash
# svg.sh: scaler.traffic_svg() in a fresh database of the running server
# (PGHOST/PGPORT/PGUSER), reported as TAP.  Run it through prove:
# `prove -e bash test/svg.sh` (test/run-tests.sh does, inside its cluster).
#
# The picture must parse as XML (xmllint), render (rsvg-convert) with bars
# where there was traffic and none where there was not (pixels read by
# test/svg_pixels.py), carry no scripts or links, escape hostile names, be
# identical for identical input, label DST days as the server counts their
# hours, draw a policy's capacity only for roles that may manage it, and
# refuse sizes and ranges beyond its limits with 22023.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=test/lib.sh
. test/lib.sh
psql_bin=$SCALER_PGBIN/psql
db=scaler_svg
tmp=$(mktemp -d)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

n=0
failed=0
ok()
{
	n=$((n + 1))
	echo "ok $n - $1"
}
not_ok()
{
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
	if [ $# -gt 1 ]; then
		sed 's/^/# /' <<<"$2"
	fi
}
# check NAME CMD...: one test, passing when CMD succeeds; shows its output otherwise.
check()
{
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$name"
	else
		not_ok "$name" "$out"
	fi
}

# q [psql options] SQL: one statement in UTC, unaligned, tuples only.
q()
{
	PGOPTIONS="-c TimeZone=UTC ${PGOPTIONS_EXTRA:-}" "$psql_bin" -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"
}
# sqlstate SQL: the SQLSTATE and message the statement fails with.
sqlstate()
{
	{ PGOPTIONS="-c TimeZone=UTC" "$psql_bin" -X -q -At -v VERBOSITY=verbose -d "$db" \
		-c "$1" 2>&1 || true; } | sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\): /\1 /p' | head -n 1
}
# expect_error NAME SQLSTATE PATTERN SQL
expect_error()
{
	local got
	got=$(sqlstate "$4")
	if [[ "$got" == "$2 "* ]] && grep -qE -- "$3" <<<"$got"; then
		ok "$1"
	else
		not_ok "$1" "expected $2 matching /$3/, got: ${got:-no error}"
	fi
}
# svg FILE SQL: write the document a query returns to FILE.
svg()
{
	q -c "$2" >"$1"
}
# no_active_content FILE: nothing a browser would run or fetch.
no_active_content()
{
	if grep -qiE '<script|<style|<image|<foreignObject|href|url\(|@import|javascript:|\bon[a-z]+=' "$1"; then
		grep -oiE '.{0,40}(<script|<style|<image|<foreignObject|href|url\(|@import|javascript:|\bon[a-z]+=).{0,40}' "$1" | head -n 5
		return 1
	fi
	# the only URI is the SVG namespace; the text is ASCII
	[ "$(grep -oE 'https?://[^"]*' "$1" | sort -u)" = "http://www.w3.org/2000/svg" ] &&
		! LC_ALL=C grep -q '[^ -~]' "$1"
}

echo "1..38"

PGOPTIONS="-c client_min_messages=warning" "$psql_bin" -X -q -d postgres \
	-c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
"$psql_bin" -X -q -d postgres -c "DROP ROLE IF EXISTS svg_reader" >/dev/null 2>&1 || true
q <<-'SQL'
CREATE EXTENSION scaler;
-- 2024-01-01 (UTC): every 30 s in every hour but 10:00 to 14:59, durations
-- around 50 ms, one error at 03:00.
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
SELECT t, 'api', 40 + (extract(epoch FROM t)::bigint % 20),
       CASE WHEN t = '2024-01-01 03:00+00' THEN 500 ELSE 200 END
FROM generate_series(timestamptz '2024-01-01 00:00+00', '2024-01-01 23:59:59+00', '30 seconds') t
WHERE extract(hour FROM t) NOT BETWEEN 10 AND 14;
-- a hostile function name: markup, quotes, an ampersand, non-ASCII letters
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
SELECT '2024-01-01 00:00+00'::timestamptz + i * interval '1 minute',
       U&'</text><script>alert(1)</script>&"'' caf\00E9 \2603', 10, 200
FROM generate_series(0, 119) i;
-- DST days in Europe/Berlin: 2024-03-31 has 23 hours, 2024-10-27 has 25
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
SELECT t, 'dst', 10, 200
FROM generate_series(timestamptz '2024-03-30 23:00+00', '2024-03-31 21:59+00', '10 minutes') t
UNION ALL
SELECT t, 'dst', 10, 200
FROM generate_series(timestamptz '2024-10-26 22:00+00', '2024-10-27 22:59+00', '10 minutes') t;
-- a policy with decisions and floors on the day
SELECT scaler.create_policy('api', target => 1, function_name => 'api',
                            stable_window => '5 minutes', min_capacity => 1, max_capacity => 10);
INSERT INTO scaler.decision (policy, decided_at, metric, value, target, from_capacity, to_capacity, reason)
VALUES ('api', '2024-01-01 06:00+00', 'concurrency', 2, 1, 1, 3, 'test'),
       ('api', '2024-01-01 10:30+00', 'concurrency', 0, 1, 3, 1, 'test'),
       ('api', '2024-01-01 15:00+00', 'concurrency', 4, 1, 1, 4, 'test');
INSERT INTO scaler.capacity_floor (policy, starts, ends, min_capacity, origin)
VALUES ('api', '2024-01-01 16:00+00', '2024-01-01 18:00+00', 2, 'schedule'),
       ('api', '2024-01-01 19:55+00', '2024-01-01 21:00+00', 5, 'forecast');
CREATE ROLE svg_reader;
SQL
ok "fresh database $db with traffic, a policy, decisions and floors"

day="timestamptz '2024-01-01 00:00+00', timestamptz '2024-01-02 00:00+00'"
flags=111111111100000111111111

# --- the plain chart
svg "$tmp/day.svg" "SELECT scaler.traffic_svg($day, 'api')"
check "the chart parses as XML" xmllint --noout "$tmp/day.svg"
check "no scripts, styles, links or external resources; pure ASCII" no_active_content "$tmp/day.svg"
check "it renders to PNG (rsvg-convert)" rsvg-convert -o "$tmp/day.png" "$tmp/day.svg"
check "bars where there was traffic, none where there was not" \
	python3 test/svg_pixels.py columns "$tmp/day.svg" "$tmp/day.png" "$flags"
check "the hour with an error is marked red" \
	python3 test/svg_pixels.py error "$tmp/day.svg" "$tmp/day.png" 3 24
bars=$(grep -c 'class="bar"' "$tmp/day.svg" || true)
errors=$(grep -c 'class="error"' "$tmp/day.svg" || true)
if [ "$bars" = 19 ] && [ "$errors" = 1 ]; then
	ok "19 bars and 1 error mark"
else
	not_ok "19 bars and 1 error mark" "bars: $bars, error marks: $errors"
fi
check "a p95 line and peak marks" grep -qE 'class="p95"[^>]* d="M[0-9]' "$tmp/day.svg"
svg "$tmp/day2.svg" "SELECT scaler.traffic_svg($day, 'api')"
check "identical input gives an identical document" cmp "$tmp/day.svg" "$tmp/day2.svg"

# --- the traffic value form
svg "$tmp/value.svg" "SELECT scaler.traffic_svg(scaler.traffic_agg(ts, duration_ms, status))
	FROM scaler.request_log WHERE function_name = 'api'"
check "the traffic value form parses as XML" xmllint --noout "$tmp/value.svg"
check "it renders the same bars" sh -c "rsvg-convert -o '$tmp/value.png' '$tmp/value.svg' &&
	python3 test/svg_pixels.py columns '$tmp/value.svg' '$tmp/value.png' $flags"
svg "$tmp/value2.svg" "SELECT scaler.traffic_svg(scaler.traffic_agg(ts, duration_ms, status))
	FROM scaler.request_log WHERE function_name = 'api'"
check "the traffic value form is deterministic too" cmp "$tmp/value.svg" "$tmp/value2.svg"

# --- a hostile function name
svg "$tmp/hostile.svg" "SELECT scaler.traffic_svg($day, function_name)
	FROM scaler.request_log WHERE function_name LIKE '</text>%' LIMIT 1"
check "a hostile function name still parses as XML" xmllint --noout "$tmp/hostile.svg"
check "and adds no script element" no_active_content "$tmp/hostile.svg"
want=$(q -c "SELECT 'Requests per hour: ' || function_name FROM scaler.request_log WHERE function_name LIKE '</text>%' LIMIT 1")
got=$(xmllint --xpath "string(/*[local-name()='svg']/*[local-name()='title'])" "$tmp/hostile.svg" 2>&1 || true)
if [ "$got" = "$want" ]; then
	ok "the title reads back as the function name, character for character"
else
	not_ok "the title reads back as the function name, character for character" "want: $want
got:  $got"
fi

# --- DST: labels are the hours as PostgreSQL prints them in the zone
labels()
{
	sed -n 's/.*class="hour-label"[^>]*>\([^<]*\)<.*/\1/p' "$1" | tr '\n' ' '
}
PGOPTIONS_EXTRA="-c TimeZone=Europe/Berlin" svg "$tmp/spring.svg" \
	"SELECT scaler.traffic_svg(timestamptz '2024-03-31 00:00+01', timestamptz '2024-04-01 00:00+02', 'dst', width => 2000)"
want="00 01 03 CEST 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20 21 22 23 "
if [ "$(labels "$tmp/spring.svg")" = "$want" ]; then
	ok "spring forward: 23 local hours, 03 CEST follows 01"
else
	not_ok "spring forward: 23 local hours, 03 CEST follows 01" "$(labels "$tmp/spring.svg")"
fi
PGOPTIONS_EXTRA="-c TimeZone=Europe/Berlin" svg "$tmp/autumn.svg" \
	"SELECT scaler.traffic_svg(timestamptz '2024-10-27 00:00+02', timestamptz '2024-10-28 00:00+01', 'dst', width => 2000)"
want="00 01 02 02 CET 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20 21 22 23 "
if [ "$(labels "$tmp/autumn.svg")" = "$want" ]; then
	ok "fall back: 25 local hours, 02 twice, the second in CET"
else
	not_ok "fall back: 25 local hours, 02 twice, the second in CET" "$(labels "$tmp/autumn.svg")"
fi
check "the DST charts parse and render" sh -c "xmllint --noout '$tmp/spring.svg' '$tmp/autumn.svg' &&
	rsvg-convert -o '$tmp/autumn.png' '$tmp/autumn.svg' &&
	python3 test/svg_pixels.py columns '$tmp/autumn.svg' '$tmp/autumn.png' 1111111111111111111111111"

# --- the policy overlay
svg "$tmp/policy.svg" "SELECT scaler.traffic_svg($day, 'api', policy => 'api')"
check "with a policy: parses as XML and renders" sh -c "xmllint --noout '$tmp/policy.svg' &&
	rsvg-convert -o '$tmp/policy.png' '$tmp/policy.svg'"
# capacity 1 from midnight, 3 at 06:00, 1 at 10:30, 4 at 15:00: three
# changes, so three V (vertical) steps in the path
steps=$(sed -n 's/.*class="capacity"[^>]* d="\([^"]*\)".*/\1/p' "$tmp/policy.svg" | grep -o V | wc -l)
floors=$(grep -c 'class="floor"' "$tmp/policy.svg" || true)
prewarm=$(grep -c 'class="prewarm"' "$tmp/policy.svg" || true)
if [ "$steps" = 3 ] && [ "$floors" = 1 ] && [ "$prewarm" = 1 ]; then
	ok "the decided capacity as a step line (3 changes), a floor and a pre-warm floor shaded"
else
	not_ok "the decided capacity as a step line (3 changes), a floor and a pre-warm floor shaded" \
		"steps $steps, floors $floors, prewarm $prewarm"
fi
svg "$tmp/replay.svg" "SELECT scaler.traffic_svg($day, 'api', policy => 'api', replay => true)"
check "replay => true: the capacity and demand of scaler.backtest()" sh -c "xmllint --noout '$tmp/replay.svg' &&
	grep -q 'class=\"demand\"' '$tmp/replay.svg' && grep -q 'backtest replay' '$tmp/replay.svg'"

# --- a capacity that changes all the time: a path of a few commands per
# pixel column, not one per change (libxml2-based viewers refuse an
# attribute over 10 MB), still reaching every level the changes reach
q <<-'SQL'
-- 4-second requests every 8 seconds for 48 hours: with a 4-second window
-- the demand alternates at every step of a replay
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
SELECT timestamptz '2024-02-01 00:00+00' + i * interval '8 seconds', 'flap', 4000, 200
FROM generate_series(0, 48 * 450 - 1) i;
SELECT scaler.create_policy('flap', target => 0.5, function_name => 'flap',
                            stable_window => '4 seconds', scale_in_stabilization => '0 seconds',
                            tolerance => 0, max_capacity => 10);
-- 17,280 recorded decisions between 2 and 7, one every 10 seconds
INSERT INTO scaler.decision (policy, decided_at, metric, value, target, from_capacity, to_capacity, reason)
SELECT 'flap', timestamptz '2024-02-01 00:00+00' + i * interval '10 seconds', 'concurrency', 1, 0.5,
       CASE WHEN i % 2 = 0 THEN 7 ELSE 2 END, CASE WHEN i % 2 = 0 THEN 2 ELSE 7 END, 'test'
FROM generate_series(1, 17280) i;
SQL
flap="timestamptz '2024-02-01 00:00+00', timestamptz '2024-02-03 00:00+00', 'flap', policy => 'flap'"
# path_stats FILE CLASS: "<V commands> <distinct y of V>" of the path of that class
path_stats()
{
	sed -n "s/.*class=\"$2\"[^>]* d=\"\([^\"]*\)\".*/\1/p" "$1" | grep -oE 'V[0-9.]+' |
		awk '{ n++; y[$0] = 1 } END { printf "%d %d\n", n, length(y) }'
}
for form in decisions replay; do
	if [ $form = replay ]; then
		svg "$tmp/flap.svg" "SELECT scaler.traffic_svg($flap, replay => true)"
	else
		svg "$tmp/flap.svg" "SELECT scaler.traffic_svg($flap)"
	fi
	read -r steps levels < <(path_stats "$tmp/flap.svg" capacity)
	size=$(wc -c <"$tmp/flap.svg")
	# 960 pixels wide: at most 3 vertical strokes per pixel column
	if xmllint --noout "$tmp/flap.svg" && [ "$steps" -ge 100 ] && [ "$steps" -le 2880 ] &&
		[ "$levels" -ge 2 ] && [ "$size" -lt 400000 ]; then
		ok "thousands of capacity changes ($form): a bounded path ($steps strokes, $size bytes) over both levels"
	else
		not_ok "thousands of capacity changes ($form): a bounded path over both levels" \
			"strokes $steps, levels $levels, bytes $size"
	fi
done
# the recorded decisions alternate between 2 and 7: both levels, no other
svg "$tmp/flap.svg" "SELECT scaler.traffic_svg($flap)"
read -r _ levels < <(path_stats "$tmp/flap.svg" capacity)
if [ "$levels" = 2 ]; then
	ok "the decisions' path strokes between exactly their two levels"
else
	not_ok "the decisions' path strokes between exactly their two levels" "levels $levels"
fi

# --- axis labels as precise as their steps: p95 around 0.07 ms has ticks
# 0.025 apart, labelled so (not rounded to 0.03 and 0.08)
svg "$tmp/ticks.svg" "SELECT scaler.traffic_svg((SELECT scaler.traffic_agg(ts, d) FROM
	(SELECT timestamptz '2026-01-01 00:00+00' + i * interval '1 minute' AS ts, 0.07 + (i % 10) * 0.0001 AS d
	 FROM generate_series(0, 300) i) v))"
labels=$(sed -n '/<g class="axis-p95"/,/<\/g>/p' "$tmp/ticks.svg" | grep -oE '>[^<]+</text>' | sed 's/[<>]//g; s/\/text$//' | head -n 4 | paste -sd ' ')
if [ "$labels" = "0 0.025 0.05 0.075" ]; then
	ok "p95 ticks 0.025 ms apart are labelled 0 0.025 0.05 0.075"
else
	not_ok "p95 ticks 0.025 ms apart are labelled 0 0.025 0.05 0.075" "$labels"
fi

# --- where Australia/Lord_Howe moves its clock by half an hour, the hour
# named 01:30 starts at 02:30 local: a floor over 15:00-15:30 UTC (01:30 to
# 02:00 local, in the hour named 01:00) is drawn in the second half of that
# hour's slot, under its bar
q <<-'SQL'
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
SELECT timestamptz '2026-10-03 10:00+00' + i * interval '1 minute', 'lh', 10, 200 FROM generate_series(0, 600) i;
SELECT scaler.create_policy('lh', target => 1, function_name => 'lh');
INSERT INTO scaler.capacity_floor (policy, starts, ends, min_capacity, origin)
VALUES ('lh', '2026-10-03 15:00+00', '2026-10-03 15:30+00', 3, 'manual');
SQL
PGOPTIONS="-c TimeZone=Australia/Lord_Howe" "$psql_bin" -X -q -At -d "$db" -o "$tmp/lh.svg" \
	-c "SELECT scaler.traffic_svg(timestamptz '2026-10-03 14:00+00', timestamptz '2026-10-03 17:00+00', 'lh', policy => 'lh')"
placed=$(python3 - "$tmp/lh.svg" <<-'PY'
	import re, sys
	doc = open(sys.argv[1]).read()
	bars = [(float(x), float(w)) for x, w in
	        re.findall(r'<rect class="bar" x="([0-9.]+)" y="[0-9.]+" width="([0-9.]+)"', doc)]
	floor = re.search(r'class="floor"[^>]* x="([0-9.]+)"[^>]* width="([0-9.]+)"', doc)
	fx, fw = float(floor.group(1)), float(floor.group(2))
	slot = bars[2][0] - bars[1][0]
	# bars are centred in their slots; the second is the hour named 01:00
	start = bars[1][0] - (slot - bars[1][1]) / 2
	print("ok" if abs(fx - (start + slot / 2)) < 1.0 and abs(fw - slot / 2) < 1.0 else
	      "floor at %.1f width %.1f, slot from %.1f, %.1f wide" % (fx, fw, start, slot))
	PY
)
if [ "$placed" = ok ]; then
	ok "Lord Howe's half-hour shift: a floor lies under the bar whose rows it covers"
else
	not_ok "Lord Howe's half-hour shift: a floor lies under the bar whose rows it covers" "$placed"
fi

# --- privileges
reader()
{
	PGOPTIONS="-c TimeZone=UTC -c role=svg_reader" "$psql_bin" -X -q -At -v VERBOSITY=verbose -d "$db" -c "$1" 2>&1 || true
}
out=$(reader "SELECT scaler.traffic_svg($day, 'api')" | head -n 1)
if [[ "$out" == "ERROR:  42501:"* ]]; then
	ok "without SELECT on the source: 42501"
else
	not_ok "without SELECT on the source: 42501" "$out"
fi
q -c "GRANT SELECT ON scaler.request_log TO svg_reader"
out=$(reader "SELECT scaler.traffic_svg($day, 'api')")
if [[ "$out" == "<?xml"* ]] && cmp -s <(printf '%s\n' "$out") "$tmp/day.svg"; then
	ok "with SELECT: the same picture"
else
	not_ok "with SELECT: the same picture" "$(head -c 300 <<<"$out")"
fi
out=$(reader "SELECT scaler.traffic_svg($day, 'api', policy => 'api')" | head -n 1)
# as for a policy that does not exist (issue 8.12: no telling the two apart)
if [[ "$out" == 'ERROR:  42704:  policy "api" does not exist'* || "$out" == 'ERROR:  42704: policy "api" does not exist'* ]]; then
	ok "a policy the role may not manage: 42704 as if it did not exist, no policy rows"
else
	not_ok "a policy the role may not manage: 42704 as if it did not exist, no policy rows" "$out"
fi
out=$(reader "SELECT scaler.traffic_svg($day, 'api', policy => 'api', replay => true)" | head -n 1)
if [[ "$out" == "ERROR:  42704:"* ]]; then
	ok "nor its replay"
else
	not_ok "nor its replay" "$out"
fi
q -c "UPDATE scaler.policy SET owner = 'svg_reader' WHERE name = 'api'"
out=$(reader "SELECT scaler.traffic_svg($day, 'api', policy => 'api')")
if [[ "$out" == "<?xml"* ]] && grep -q 'class="capacity"' <<<"$out"; then
	ok "its own policy: the capacity is drawn"
else
	not_ok "its own policy: the capacity is drawn" "$(head -c 300 <<<"$out")"
fi
expect_error "an unknown policy: 42704" 42704 'policy "nope" does not exist' \
	"SELECT scaler.traffic_svg($day, 'api', policy => 'nope')"

# --- limits
expect_error "width below the limit: 22023" 22023 'width must be between 320 and 8000' \
	"SELECT scaler.traffic_svg($day, 'api', width => 100)"
expect_error "height above the limit: 22023" 22023 'height must be between 240 and 4000' \
	"SELECT scaler.traffic_svg($day, 'api', height => 100000)"
expect_error "a range of more than 1000 hours: 22023 naming the limit" 22023 'at most 1000 hours' \
	"SELECT scaler.traffic_svg(timestamptz '2024-01-01 00:00+00', timestamptz '2024-03-01 00:00+00', 'api')"
expect_error "a traffic value of more than 1000 hours: 22023 naming the limit" 22023 'at most 1000 hours' \
	"SELECT scaler.traffic_svg(scaler.traffic_agg(t)) FROM (VALUES (timestamptz '2024-01-01 00:00+00'), ('2024-03-01 00:00+00')) v(t)"
# Refused from the value's span, before hourly_requests gap-fills its hours:
# a millennium of them (8.8 million rows) used to spill 1.5 GB to temporary
# files first, past this 1 MB limit (53400).
expect_error "two rows a millennium apart: 22023 before any hour is filled in" 22023 'at most 1000 hours' \
	"SET temp_file_limit = '1MB'; SELECT scaler.traffic_svg(scaler.traffic_agg(t)) FROM (VALUES (timestamptz '2000-01-01 00:00+00'), ('3000-12-31 00:00+00')) v(t)"
out=$(q -c "SELECT length(scaler.traffic_svg(scaler.traffic_agg(t))) > 0 FROM (VALUES (timestamptz '2024-01-01 00:00+00'), (timestamptz '2024-01-01 00:00+00' + interval '1000 hours' - interval '1 minute')) v(t)" 2>&1)
if [ "$out" = t ]; then
	ok "a traffic value of exactly 1000 UTC hours is drawn"
else
	not_ok "a traffic value of exactly 1000 UTC hours is drawn" "$out"
fi

"$psql_bin" -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "DROP ROLE IF EXISTS svg_reader" >/dev/null
[ "$failed" -eq 0 ]
