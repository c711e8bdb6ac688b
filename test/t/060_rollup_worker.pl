# Rollups maintained by the worker (issue 9): a worker killed with kill -9
# in the middle of a refresh leaves no slot counted twice or lost; ingest
# concurrent with the worker's refreshes (pgbench, late rows included)
# leaves the rollup equal to the raw rows; retention drops only the daily
# partitions of scaler.request_log that the rollup covers.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # ListenUtil.pm, copied beside the test by test/tap.sh
use ListenUtil qw(new_worker_node);

my $node = new_worker_node(
	'rollup', qq(
scaler.database = 'postgres'
scaler.naptime = '200ms'
restart_after_crash = on
# the refresh waits for a lock at most this long: long enough here for the
# test to kill the worker while it waits
scaler.policy_timeout = '60s'
));

$node->safe_psql(
	'postgres', q(
CREATE EXTENSION scaler;
CREATE TABLE rl (LIKE scaler.request_log);
CREATE INDEX ON rl (function_name, ts);
CREATE INDEX ON rl (ts);
INSERT INTO rl (ts, function_name, duration_ms, status)
SELECT now() - interval '6 days' + i * interval '3 seconds', 'f' || (i % 7), i % 300, 200
  FROM generate_series(1, 150000) i;
SELECT scaler.create_rollup('rl');
));

# every slot equals traffic_agg of its rows, and the reports match raw
my $slots_wrong = q(
SELECT count(*) FROM scaler.rollup_slot s
 WHERE s.source = 'rl'::regclass
   AND s.traffic::text IS DISTINCT FROM
       (SELECT scaler.traffic_agg(ts, duration_ms, status)::text FROM rl r
         WHERE r.function_name IS NOT DISTINCT FROM s.function_name
           AND r.ts >= scaler._rollup_day_start(s.day)
           AND r.ts < LEAST(scaler._rollup_day_start(s.day + 1),
                            (SELECT watermark FROM scaler.rollup WHERE source = 'rl'::regclass))));

ok( $node->poll_query_until('postgres',
		"SELECT invalid_slots = 0 AND lag < interval '2 minutes' FROM scaler.rollups WHERE source = 'rl'::regclass"),
	'the worker fills the rollup');
is($node->safe_psql('postgres', $slots_wrong), '0', 'every slot is traffic_agg of its rows');

# Late rows invalidate slots; hold the worker's recompute on a table lock,
# then kill -9 it in the middle of that refresh.
$node->safe_psql('postgres',
	"INSERT INTO rl SELECT now() - interval '3 days' + i * interval '1 second', 'f1', 5, 500 FROM generate_series(1, 500) i");
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE rl IN ACCESS EXCLUSIVE MODE');
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'scaler' AND wait_event_type = 'Lock'"),
	'the worker waits for the source in the middle of a refresh');
my $pid = $node->safe_psql('postgres', "SELECT pid FROM pg_stat_activity WHERE backend_type = 'scaler'");
kill 'KILL', $pid;
eval { $locker->quit; };
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'scaler' AND pid <> $pid"),
	'after kill -9 the worker comes back');
ok( $node->poll_query_until('postgres',
		"SELECT invalid_slots = 0 FROM scaler.rollups WHERE source = 'rl'::regclass"),
	'and recomputes the invalidated slots');
is($node->safe_psql('postgres', $slots_wrong), '0', 'no slot counted twice or lost after the crash');

# Concurrent ingest: current and late rows from 4 clients while the
# worker refreshes every 200 ms.
$node->pgbench(
	'-n -c 4 -j 2 -T 5',
	0, [qr/processed/], [qr/^$/],
	'ingest concurrent with refreshes',
	{
		'060_ingest' => q{
\set late random(0, 1)
INSERT INTO rl (ts, function_name, duration_ms, status)
SELECT CASE WHEN :late = 1 THEN now() - random() * interval '5 days' ELSE now() - interval '61 seconds' END,
       'f' || (random() * 6)::int, random() * 100, 200 FROM generate_series(1, 20);
UPDATE rl SET status = 503 WHERE ctid = (SELECT ctid FROM rl WHERE ts > now() - interval '4 days' LIMIT 1 OFFSET (random() * 1000)::int);
}
	});
ok( $node->poll_query_until('postgres',
		"SELECT invalid_slots = 0 AND watermark > now() - interval '2 minutes' FROM scaler.rollups WHERE source = 'rl'::regclass"),
	'the worker catches up');
is($node->safe_psql('postgres', $slots_wrong), '0', 'after concurrent ingest every slot is traffic_agg of its rows');
# Retention: old daily partitions of scaler.request_log go only once covered.
$node->safe_psql(
	'postgres', q(
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
SELECT now() - interval '10 days' + i * interval '10 seconds', 'api', 1, 200 FROM generate_series(1, 86400) i;
));
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM ONLY scaler.request_log_default"),
	'the worker moves the rows out of the DEFAULT partition into daily partitions');
my $parts = q(SELECT count(*) FROM pg_inherits WHERE inhparent = 'scaler.request_log'::regclass);
my $before = $node->safe_psql('postgres', $parts);
cmp_ok($before, '>=', 12, 'daily partitions for the past days and the next ones');
$node->append_conf('postgresql.conf', "scaler.log_retention = '5d'");
$node->reload;
sleep 2;
is($node->safe_psql('postgres', $parts), $before, 'without a rollup, retention drops nothing');
my $total = $node->safe_psql('postgres',
	"SELECT sum(requests) FROM scaler.hourly_requests(now() - interval '11 days', now(), 'api')");
$node->safe_psql('postgres', "SELECT scaler.create_rollup()");
ok( $node->poll_query_until('postgres', qq(
SELECT NOT EXISTS (SELECT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                    WHERE i.inhparent = 'scaler.request_log'::regclass AND c.relname LIKE 'request_log_p%'
                      AND to_date(substr(c.relname, 14), 'YYYYMMDD') + 1 <= (now() - interval '5 days')::date)
   AND EXISTS (SELECT FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'scaler.request_log'::regclass
                  AND c.relname = 'request_log_p' || to_char(now() - interval '4 days', 'YYYYMMDD')))),
	'with a rollup, the partitions older than 5 days are dropped, the newer ones kept');
is($node->safe_psql('postgres',
	"SELECT sum(requests) FROM scaler.hourly_requests(now() - interval '11 days', now(), 'api')"),
	$total, 'their rows are still counted, from the rollup');

# A refresh of every rollup goes on past one that fails, but an error of the
# transaction's state is the call's: at REPEATABLE READ no rollup is marked
# as failing, the call fails with 25001.
my ($ret, $out, $err) = $node->psql('postgres',
	"BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT scaler.refresh_rollup(); COMMIT;",
	extra_params => [ '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose' ]);
like($err, qr/25001: refresh_rollup must run at isolation level READ COMMITTED/,
	'refresh_rollup() at REPEATABLE READ fails with 25001');
is($node->safe_psql('postgres', "SELECT count(*) FROM scaler.rollup WHERE last_error LIKE '%READ COMMITTED%'"),
	'0', 'and marks no rollup as failing');

done_testing();
