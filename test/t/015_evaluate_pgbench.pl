# Many concurrent callers of scaler.evaluate() plus the worker (issue 8.4).
#
# 0.1 wrote a policy's stabilization history out of time order when an
# evaluation with an older statement time got the policy's row after a newer
# one committed; from then on every tick and every evaluate() failed with
# "invalid decision state", for all policies.  Here 8 pgbench clients call
# evaluate() for 20 s while the worker ticks every 50 ms: no client may get
# an error, every history must stay in time order, and afterwards every
# policy still evaluates.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # ListenUtil.pm, copied beside the test by test/tap.sh
use ListenUtil qw(new_worker_node);

# A generous policy_timeout: on a loaded machine an evaluation among 9
# concurrent callers can take longer than the default 2 s, and a timeout
# (a WARNING, tested in the regression suite) is not what this test is about.
my $node = new_worker_node(
	'pgbench', qq(
scaler.naptime = '50ms'
scaler.policy_timeout = '60s'
max_connections = 40
));

# Five policies over traffic that is in the future when it is inserted: a
# sawtooth of 1 to 10 requests per millisecond with a 2 s period, read
# through a 200 ms window, so desired capacities rise and fall all the time
# and the stabilization histories hold falling steps (where an evaluation in
# the past would append an entry out of order).
$node->safe_psql(
	'postgres', q(
CREATE EXTENSION scaler;
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
SELECT now() + i * interval '1 millisecond', 'f' || (i % 5), 10, 200
  FROM generate_series(0, 40000) i, generate_series(1, 1 + (i % 2000) / 200) k;
SELECT scaler.create_policy('p' || n, 1000 + 100 * n, metric => 'rps',
                            function_name => 'f' || n,
                            stable_window => '200 milliseconds',
                            scale_in_stabilization => '30 seconds',
                            tolerance => 0, max_capacity => 1000)
  FROM generate_series(0, 4) n;
));

$node->pgbench(
	'--no-vacuum --client=8 --jobs=2 --time=20',
	0,
	[ qr{processed: [1-9]\d*\n}, qr{number of failed transactions: 0 } ],
	[qr{^$}],
	'8 clients calling scaler.evaluate() for 20 s get no error',
	{ 'evaluate.sql' => "SELECT count(*) FROM scaler.evaluate();\n" });

is( $node->safe_psql(
		'postgres', q(
SELECT count(*) FROM scaler.policy_state
 WHERE history_at <> ARRAY(SELECT t FROM unnest(history_at) t ORDER BY t)
    OR NOT (last_evaluated_at >= ALL (history_at)))),
	'0',
	'every stabilization history is in time order');

my ($ret, $out, $err) =
  $node->psql('postgres', 'SELECT count(*) FROM scaler.evaluate()');
is($ret, 0, 'evaluate() still works afterwards');
is($err, '', 'without a warning');

ok( $node->poll_query_until(
		'postgres', q(
SELECT bool_and(last_evaluated_at > now() - interval '5 seconds'
                AND NOT failing)
  FROM scaler.policies)),
	'the worker keeps evaluating every policy');

unlike(slurp_file($node->logfile), qr/invalid decision state|is not valid, resetting it/,
	'no state was ever out of order');

$node->stop;
done_testing();
