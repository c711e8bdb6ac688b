# One slow policy or one open transaction does not stall the others
# (issue 8.10).
#
# - A policy whose source is a view calling pg_sleep(10) is cut off after
#   scaler.policy_timeout (1 s here), its failure recorded on it, and
#   another policy's decision is not delayed much beyond that.
# - A writer of a rollup's source with an open transaction or a table lock
#   holds the worker's refresh back at most scaler.policy_timeout.
# - A session that made a decision in evaluate() and keeps its transaction
#   open does not stop the worker's decisions on other policies (0.1 made
#   the worker wait for it on the lock that ordered decision ids); readers
#   of the decision log hold the newer decisions back until it commits and
#   then return them all in id order.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # ListenUtil.pm, copied beside the test by test/tap.sh
use ListenUtil qw(new_worker_node);
use Time::HiRes qw(time usleep);

my $node = new_worker_node(
	'slow', qq(
scaler.naptime = '100ms'
scaler.policy_timeout = '1s'
));

# rps over 10 minutes at target 1: capacity = ceil(rows / 600); rows older
# than the window's last tenth keep panic mode out of it
sub add_rows
{
	my ($function, $n) = @_;
	$node->safe_psql('postgres',
		"INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
		 SELECT now() - interval '90 seconds', '$function', 10, 200 FROM generate_series(1, $n)");
}

# poll (at most $limit seconds) until the query returns t; returns seconds taken or undef
sub within
{
	my ($limit, $sql) = @_;
	my $start = time;
	while (time - $start < $limit)
	{
		return time - $start if $node->safe_psql('postgres', $sql) eq 't';
		usleep(50_000);
	}
	return undef;
}

$node->safe_psql(
	'postgres', q(
CREATE EXTENSION scaler;
CREATE VIEW public.sleepy AS
SELECT r.* FROM scaler.request_log r CROSS JOIN (SELECT pg_sleep(10)) s;
SELECT scaler.create_policy('fast', 1, metric => 'rps', function_name => 'fast',
                            stable_window => '10 minutes', tolerance => 0,
                            scale_in_stabilization => '0');
SELECT scaler.create_policy('held', 1, metric => 'rps', function_name => 'held',
                            stable_window => '10 minutes', enabled => false);
SELECT scaler.create_policy('zslow', 1, metric => 'rps', source => 'public.sleepy');
));

ok( $node->poll_query_until('postgres',
		"SELECT failing FROM scaler.policies WHERE name = 'zslow'"),
	'the slow policy fails');
is( $node->safe_psql('postgres',
		"SELECT last_error FROM scaler.policies WHERE name = 'zslow'"),
	'evaluation took longer than scaler.policy_timeout (1000 ms)',
	'with the timeout as its last error');

# the slow policy still costs 1 s every tick; the fast one waits at most
# for that, not for the 10 s sleep
add_rows('fast', 1200);
my $took = within(20,
	"SELECT capacity = 2 FROM scaler.policies WHERE name = 'fast'");
ok(defined $took && $took < 4,
	'another policy decides within about scaler.policy_timeout ('
	  . (defined $took ? sprintf('%.1f s', $took) : 'never') . ')');

# Many slow policies of one role: once they have failed, the worker
# evaluates them last and spends about one scaler.policy_timeout of a tick
# on them (the longest failing first), so the others decide every tick
# instead of once every six timeouts.
$node->safe_psql('postgres',
	"SELECT scaler.create_policy('slow' || i, 1, metric => 'rps', source => 'public.sleepy') FROM generate_series(1, 5) i");
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 6 FROM scaler.policies WHERE failing AND (name = 'zslow' OR name LIKE 'slow_')"),
	'six slow policies fail');
add_rows('fast', 600);
$took = within(20,
	"SELECT capacity = 3 FROM scaler.policies WHERE name = 'fast'");
ok(defined $took && $took < 4,
	'another policy still decides within about two policy timeouts ('
	  . (defined $took ? sprintf('%.1f s', $took) : 'never') . ')');
my $mark = $node->safe_psql('postgres', 'SELECT now()');
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 6 FROM scaler.policies WHERE failing AND last_error_at > '$mark' AND (name = 'zslow' OR name LIKE 'slow_')"),
	'and each slow policy is still tried in turn');
$node->safe_psql('postgres',
	"SELECT scaler.drop_policy('slow' || i) FROM generate_series(1, 5) i");

$node->safe_psql('postgres', "SELECT scaler.drop_policy('zslow')");

# a session decides on 'held' and keeps its transaction open
my $open = $node->background_psql('postgres');
add_rows('held', 600);
is($open->query_safe("BEGIN; SELECT count(*) FROM scaler.evaluate('held');"),
	'1', 'an open transaction made a decision');

add_rows('fast', 1800);
$took = within(10,
	"SELECT capacity = 6 FROM scaler.policies WHERE name = 'fast'");
ok(defined $took, "the worker's other decisions go on meanwhile");
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'scaler' AND wait_event_type = 'Lock'"),
	'0', 'and the worker waits for no lock');

is( $node->safe_psql('postgres',
		"SELECT string_agg(policy || ':' || to_capacity, ',' ORDER BY id) FROM scaler.listen_decisions(0)"),
	'fast:2,fast:3', 'readers stop before the open decision');

$open->query_safe('COMMIT');
$open->quit;
is( $node->safe_psql('postgres',
		"SELECT string_agg(policy || ':' || to_capacity, ',' ORDER BY id) FROM scaler.listen_decisions(0)"),
	'fast:2,fast:3,held:1,fast:6', 'after its commit they return every decision in id order');

# A writer of a rollup's source that keeps its transaction open holds the
# rollup's lock (its capture trigger takes it until commit), and one that
# holds LOCK TABLE the source itself: the worker's refresh waits for either
# at most scaler.policy_timeout, records the wait as the rollup's error and
# goes on with the policies (it used to wait for as long as they liked).
$node->safe_psql(
	'postgres', q(
CREATE TABLE public.rl (LIKE scaler.request_log);
INSERT INTO public.rl (ts, function_name, duration_ms, status)
SELECT now() - interval '2 days' + i * interval '1 minute', 'r', 5, 200 FROM generate_series(1, 100) i;
SELECT scaler.create_rollup('public.rl');
));
ok( $node->poll_query_until('postgres',
		"SELECT lag < interval '2 minutes' FROM scaler.rollups WHERE source = 'public.rl'::regclass"),
	'the worker fills the rollup');

my $writer = $node->background_psql('postgres');
$writer->query_safe("BEGIN; INSERT INTO public.rl (ts, function_name, duration_ms, status) VALUES (now(), 'r', 5, 200)");
ok( $node->poll_query_until('postgres',
		"SELECT last_error LIKE '%lock timeout%' FROM scaler.rollups WHERE source = 'public.rl'::regclass"),
	'a writer with an open transaction: the refresh gives up waiting, its error recorded');
add_rows('fast', 1800);
$took = within(10,
	"SELECT capacity = 9 FROM scaler.policies WHERE name = 'fast'");
ok(defined $took, 'and the policies are evaluated meanwhile');
$writer->query_safe('COMMIT');

$writer->query_safe('BEGIN; LOCK TABLE public.rl IN ACCESS EXCLUSIVE MODE');
$node->safe_psql('postgres', "UPDATE scaler.rollup SET last_error = NULL WHERE source = 'public.rl'::regclass");
ok( $node->poll_query_until('postgres',
		"SELECT last_error LIKE '%lock timeout%' FROM scaler.rollups WHERE source = 'public.rl'::regclass"),
	'so does one holding LOCK TABLE');
add_rows('fast', 1200);
$took = within(10,
	"SELECT capacity = 11 FROM scaler.policies WHERE name = 'fast'");
ok(defined $took, 'with the policies evaluated meanwhile too');
$writer->query_safe('COMMIT');
$writer->quit;
ok( $node->poll_query_until('postgres',
		"SELECT sum(requests) = 101 FROM scaler.hourly_requests(now() - interval '3 days', now() + interval '1 minute', 'r', 'public.rl')"),
	'and once they commit the rollup reads every row');

$node->stop;
done_testing();
