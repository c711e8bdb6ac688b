# Rollups survive pg_dump and pg_restore (issue 9): a database with a
# rollup of a table of the user's and one of scaler.request_log is dumped
# (custom format) and restored into a fresh database.  The restored
# database lists both rollups with their watermarks, slots and invalidated
# slots, its slots are those of the original to the byte, and
# hourly_requests reports what the original reports.  The capture triggers
# of the user's table come back with it; those of scaler.request_log (a
# table of the extension, whose triggers pg_dump leaves out) do not, so
# readers read that source raw until a refresh puts them back and rebuilds,
# after which late rows are captured again.  The restored rollups are
# still their tables' (ids), and dropping a restored source deletes its
# rollup.  A refresh that runs between the restore's data and post-data
# sections (the worker's) leaves the rollup alone.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('rollup_dump');
$node->init;
$node->append_conf('postgresql.conf', "timezone = 'UTC'\n");
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql(
	'src', q(
CREATE EXTENSION scaler;
CREATE TABLE public.logs (LIKE scaler.request_log);
CREATE INDEX ON public.logs (function_name, ts);
INSERT INTO public.logs (ts, function_name, duration_ms, status)
SELECT now() - interval '5 days' + i * interval '17 seconds', 'f' || (i % 5),
       (i % 311) * 1.25, CASE WHEN i % 17 = 0 THEN 503 ELSE 200 END
  FROM generate_series(1, 24000) i
 WHERE now() - interval '5 days' + i * interval '17 seconds' < now() - interval '2 minutes';
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
SELECT ts, function_name, duration_ms, status FROM public.logs WHERE function_name IN ('f1', 'f2');
SELECT scaler.create_rollup('public.logs');
SELECT scaler.create_rollup();
DO $$ BEGIN FOR i IN 1..100 LOOP EXIT WHEN scaler.refresh_rollup() = 0; END LOOP; END $$;
-- the worker's upkeep: daily partitions of scaler.request_log, the rows
-- of the DEFAULT partition moved into them (a day per call)
DO $$ BEGIN FOR i IN 1..8 LOOP PERFORM scaler._maintain_request_log(); END LOOP; END $$;
DO $$ BEGIN FOR i IN 1..100 LOOP EXIT WHEN scaler.refresh_rollup() = 0; END LOOP; END $$;
-- a late row below the watermark: an invalidated slot to dump as well
INSERT INTO public.logs (ts, function_name, duration_ms, status)
VALUES (now() - interval '3 days', 'f3', 42, 500);
));

# a fixed range, so that both databases report the same hours
my $until = $node->safe_psql('src', q(SELECT date_trunc('hour', now())));

my $rollups = q(
SELECT string_agg(concat_ws(' ', source, owner, watermark, covered_from, slots, invalid_slots), E'\n' ORDER BY source::text)
  FROM scaler.rollups);
my $slots = q(
SELECT (SELECT string_agg(concat_ws(' ', source, function_name, day, traffic), E'\n'
                          ORDER BY source::text, function_name, day) FROM scaler.rollup_slot)
       || E'\n' || (SELECT string_agg(concat_ws(' ', source, day, traffic), E'\n'
                                       ORDER BY source::text, day) FROM scaler.rollup_day));
sub hours
{
	my ($source, $fn) = @_;
	$fn = defined $fn ? "'$fn'" : 'NULL';
	return qq(
SET TimeZone = 'Asia/Kathmandu';
SELECT string_agg(h::text, E'\\n' ORDER BY h.hour)
  FROM scaler.hourly_requests('$until'::timestamptz - interval '6 days', '$until', $fn, '$source') h;);
}

my %before;
$before{rollups} = $node->safe_psql('src', $rollups);
$before{slots} = $node->safe_psql('src', $slots);
for my $q (['public.logs', undef], ['public.logs', 'f3'], ['scaler.request_log', undef])
{
	$before{"@$q[0] " . ($q->[1] // '')} = $node->safe_psql('src', hours(@$q));
}
like($before{rollups}, qr/^logs .* 1\nscaler\.request_log .* 0$/s,
	'the original has both rollups, one with an invalidated slot');

my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', 'src', '-f', $dump ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'dst', $dump ],
	'pg_restore into a fresh database');

is($node->safe_psql('dst', $rollups), $before{rollups},
	'scaler.rollups shows both rollups as they were (watermark, slots, invalidated slots)');
is($node->safe_psql('dst', $slots), $before{slots}, 'the slots and the days\' values are restored to the byte');
for my $q (['public.logs', undef], ['public.logs', 'f3'], ['scaler.request_log', undef])
{
	is($node->safe_psql('dst', hours(@$q)),
		$before{"@$q[0] " . ($q->[1] // '')},
		"hourly_requests of $q->[0] (" . ($q->[1] // 'all functions') . ') is what the original reports');
}

# the worker's daily partitions are the user's tables, dumped with their
# indexes; the restore (--exit-on-error above) attached them without
# making indexes of its own
my $partition_indexes = q(
SELECT count(DISTINCT c.oid) || ' ' || count(i.indexrelid)
  FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid
  LEFT JOIN pg_index i ON i.indrelid = c.oid
 WHERE h.inhparent = 'scaler.request_log'::regclass AND c.relname ~ '^request_log_p');
like($node->safe_psql('src', $partition_indexes), qr/^([1-9]\d*) /, 'the original has daily partitions');
is($node->safe_psql('dst', $partition_indexes), $node->safe_psql('src', $partition_indexes),
	'the restored ones have their indexes, once each');

my $triggers = q(
SELECT count(*) FROM pg_trigger WHERE tgrelid = '%s'::regclass
   AND tgname LIKE 'scaler\_rollup\_%%' AND tgenabled = 'O');
is($node->safe_psql('dst', sprintf($triggers, 'public.logs')), '4',
	'the capture triggers of the user\'s table are restored');
is($node->safe_psql('dst', sprintf($triggers, 'scaler.request_log')), '0',
	'those of scaler.request_log are not (pg_dump leaves out an extension table\'s triggers)');

# the first refresh puts them back and rebuilds; late rows are captured again
$node->safe_psql('dst',
	q(DO $$ BEGIN FOR i IN 1..100 LOOP EXIT WHEN scaler.refresh_rollup() = 0; END LOOP; END $$));
is($node->safe_psql('dst', sprintf($triggers, 'scaler.request_log')), '4',
	'a refresh puts the triggers of scaler.request_log back');
$node->safe_psql(
	'dst', q(
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
VALUES (now() - interval '2 days', 'f1', 7, 200);
CREATE TABLE public.request_log_raw AS SELECT * FROM scaler.request_log;
CREATE TABLE public.logs_raw AS SELECT * FROM public.logs;
));
is($node->safe_psql('dst', q(SELECT invalid_slots FROM scaler.rollups WHERE source = 'scaler.request_log'::regclass)),
	'1', 'a late row of scaler.request_log is captured after that refresh');
is($node->safe_psql('dst', hours('scaler.request_log', undef)),
	$node->safe_psql('dst', hours('public.request_log_raw', undef)),
	'hourly_requests of scaler.request_log equals the raw rows after the rebuild');
is($node->safe_psql('dst', hours('public.logs', undef)),
	$node->safe_psql('dst', hours('public.logs_raw', undef)),
	'and that of the user\'s table, refreshed after the restore');

# the restored rollups still belong to their tables: the ids in the rows
# and in the restored triggers agree, and the event triggers (made by
# CREATE EXTENSION in the restore, not by the dump) are there once
is($node->safe_psql('dst', q(SELECT string_agg(source::text || ' ' || scaler._rollup_current(source, id), ', ' ORDER BY source::text) FROM scaler.rollup)),
	'logs true, scaler.request_log true',
	'each restored rollup is its table\'s (the triggers carry the rollup\'s id)');
is($node->safe_psql('dst', q(SELECT string_agg(evtname || ' ' || evtenabled::text, ', ' ORDER BY evtname) FROM pg_event_trigger)),
	'scaler_rollup_drop A, scaler_rollup_partitions A, scaler_rollup_rewrite A',
	'the restored database has the event triggers once each, enabled always');
# A refresh while the restore is under way (as the worker's, every
# scaler.naptime): pg_restore loads the rollup's rows in its data section
# and creates the capture triggers in post-data.  The refresh between them
# must leave the rollup alone (it used to take the source for another
# table that got a dropped source's OID and delete the rollup).
$node->safe_psql('postgres', 'CREATE DATABASE dst2');
for my $section ('pre-data', 'data')
{
	$node->command_ok([ 'pg_restore', '--exit-on-error', "--section=$section", '-d', 'dst2', $dump ],
		"pg_restore --section=$section");
}
is($node->safe_psql('dst2', q(SELECT scaler.refresh_rollup('public.logs'))), '0',
	'a refresh before the triggers are restored writes nothing');
$node->command_ok([ 'pg_restore', '--exit-on-error', '--section=post-data', '-d', 'dst2', $dump ],
	'pg_restore --section=post-data');
my $logs_rollup = q(
SELECT concat_ws(' ', source, owner, watermark, covered_from, slots, invalid_slots)
  FROM scaler.rollups WHERE source = 'public.logs'::regclass);
is($node->safe_psql('dst2', $logs_rollup), $node->safe_psql('src', $logs_rollup),
	'after the restore the rollup of the user\'s table is as it was');
is($node->safe_psql('dst2', hours('public.logs', undef)), $before{'public.logs '},
	'and reads of it report what the original reports');

$node->safe_psql('dst', 'DROP TABLE public.logs');
is($node->safe_psql('dst', q(SELECT count(*) FROM scaler.rollup_slot WHERE source::text !~ 'request_log')),
	'0', 'dropping the restored source deletes its slots');

$node->stop;
done_testing();
