# A table of scaler.traffic values survives pg_dump and pg_restore
# (issue 11, item 5): every value reads back byte for byte (its text form)
# and reports the same hours.  pg_dump writes the values through
# traffic_out and pg_restore reads them through traffic_in, which checks a
# value without building it and stores it as it came, or rebuilds it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('traffic_dump');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->safe_psql(
	'src', q{
CREATE EXTENSION scaler;
CREATE TABLE vals (id int PRIMARY KEY, what text, t scaler.traffic);
-- busy quarters (summaries), sparse ones (rows), errors, no durations
INSERT INTO vals
SELECT 1, 'busy day', scaler.traffic_agg(ts, (i % 97) * 1.5, CASE WHEN i % 13 = 0 THEN 503 ELSE 200 END)
FROM (SELECT timestamptz '2026-03-08 00:00+00' + i * interval '7 seconds' AS ts, i
      FROM generate_series(0, 12000) i) s;
INSERT INTO vals
SELECT 2, 'sparse and busy', scaler.traffic_agg(ts, d, st)
FROM (SELECT timestamptz '2026-01-01' + random() * interval '30 days' AS ts,
             exp(random() * 8) AS d, CASE WHEN random() < 0.05 THEN 500 END AS st
      FROM generate_series(1, 3000)
      UNION ALL
      SELECT timestamptz '2026-01-05 10:00+00' + i * interval '1 second', 0.25 * i, 200
      FROM generate_series(0, 899) i) s;
INSERT INTO vals
SELECT 3, '160 years apart', scaler.traffic_agg(ts, 12.5, 200)
FROM (VALUES (timestamptz '1866-01-01 10:00+00'), ('2026-01-01 10:00+00')) v(ts);
INSERT INTO vals
SELECT 4, 'year 500 (a summary whatever its rows)', scaler.traffic_agg(ts)
FROM (VALUES (timestamptz '0500-06-01 12:00+00'), ('0500-06-01 12:01+00')) v(ts);
INSERT INTO vals
SELECT 5, 'merged per function', scaler.traffic_merge(t)
FROM (SELECT scaler.traffic_agg(ts, 10.0 * g) AS t
      FROM (SELECT timestamptz '2026-02-01' + i * interval '13 seconds' AS ts, i % 5 AS g
            FROM generate_series(0, 5000) i) s GROUP BY g) p;
INSERT INTO vals VALUES (6, 'null', NULL);
});

my $dump = PostgreSQL::Test::Utils::tempdir() . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src') ],
	'pg_dump of a table of traffic values');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('dst'), $dump ],
	'pg_restore into an empty database');

my $values = q{SELECT id, what, t::text FROM vals ORDER BY id};
my $before = $node->safe_psql('src', $values);
is($node->safe_psql('dst', $values), $before, 'every value reads back byte for byte');
is($node->safe_psql('dst', 'SELECT count(*) FROM vals'), '6', 'all six rows restored');

my $reports = q{
SET TimeZone = 'America/New_York';
SELECT v.id, h.* FROM vals v, scaler.hourly_requests(v.t) h ORDER BY v.id, h.hour};
my $hours = $node->safe_psql('src', $reports);
ok(length($hours) > 1000, 'the values report hours');
is($node->safe_psql('dst', $reports), $hours, 'and report the same hours after the restore');

# The restored values are whole values, not just equal text: they merge.
is( $node->safe_psql(
		'dst',
		q{SELECT (SELECT sum(requests) FROM scaler.hourly_requests(
		              (SELECT scaler.traffic_merge(t) FROM vals)))
		       = (SELECT sum(h.requests) FROM vals v, scaler.hourly_requests(v.t) h)}),
	't',
	'the restored values merge into one that counts every request');

$node->stop;
done_testing();
