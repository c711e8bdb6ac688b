# The worker survives a crash and a restart without losing or repeating a
# decision: kill -9 of the worker (restart_after_crash on) brings it back
# and decisions continue; after a server restart the policy state and the
# decision ids continue where they were.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # ListenUtil.pm, copied beside the test by test/tap.sh
use ListenUtil qw(new_worker_node);

my $node = new_worker_node(
	'restart', qq(
scaler.database = 'postgres'
scaler.naptime = '200ms'
restart_after_crash = on
));

# rps over a 1 minute window at target 0.1: every 30 requests add 5 instances
$node->safe_psql(
	'postgres', q(
CREATE EXTENSION scaler;
SELECT scaler.create_policy('api', 0.1, metric => 'rps', function_name => 'api',
                            scale_in_stabilization => '0');
));

# 30 requests 10 s ago: inside the window, outside its panic tail (6 s)
sub burst
{
	$node->safe_psql('postgres',
		"INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
		 SELECT now() - interval '10 seconds', 'api', 20, 200 FROM generate_series(1, 30)");
}

sub capacity_reaches
{
	my ($n) = @_;
	return $node->poll_query_until('postgres',
		"SELECT capacity = $n FROM scaler.policies WHERE name = 'api'");
}

sub worker_pid
{
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'scaler'");
}

burst();
ok(capacity_reaches(5), 'the worker scales api to 5');
my $pid = worker_pid();
like($pid, qr/^\d+$/, 'the worker is running');

# kill -9: the postmaster resets the cluster and starts the launcher, which
# starts the worker again
kill 'KILL', $pid;
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'scaler' AND pid <> $pid"),
	'after kill -9 the worker comes back');
ok($node->log_contains(qr/background worker "scaler" \(PID $pid\) was terminated by signal 9/),
	'the crash is in the log');
is($node->safe_psql('postgres', "SELECT capacity FROM scaler.policies WHERE name = 'api'"),
	'5', 'the committed state survived the crash');

burst();
ok(capacity_reaches(10), 'decisions continue after the crash (5 -> 10)');

my $max_before = $node->safe_psql('postgres', 'SELECT max(id) FROM scaler.decision');
$node->restart;
is($node->safe_psql('postgres', "SELECT capacity FROM scaler.policies WHERE name = 'api'"),
	'10', 'the policy state survives a server restart');
burst();
ok(capacity_reaches(15), 'decisions continue after the restart (10 -> 15)');
cmp_ok($node->safe_psql('postgres', "SELECT max(id) FROM scaler.decision"),
	'>', $max_before, 'decision ids continue upwards');

# none lost, none repeated: the decisions form one chain 0 -> 5 -> 10 -> 15
is( $node->safe_psql(
		'postgres',
		"SELECT string_agg(from_capacity || '>' || to_capacity, ' ' ORDER BY id)
		   FROM scaler.decision WHERE policy = 'api'"),
	'0>5 5>10 10>15',
	'the decision log is one unbroken chain, no decision lost or duplicated');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM scaler.decision d JOIN scaler.policies p ON p.name = d.policy
		  WHERE d.id = p.last_decision_id AND d.to_capacity = p.capacity"),
	'1', 'the state points at the last decision');

$node->stop;
done_testing();
