# The worker stays calm when things are missing or wrong:
# - scaler.database names a database that does not exist, or that allows no
#   connections: one log line, a wait, and it starts once it can connect;
# - the extension is not installed there: one log line, a wait, and it
#   starts evaluating once it is;
# - a policy whose source was dropped fails alone (logged, kept in its
#   state) while another keeps deciding;
# - scaler.enabled = off + reload stops evaluation, on resumes it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # ListenUtil.pm, copied beside the test by test/tap.sh
use ListenUtil qw(new_worker_node);

my $node = new_worker_node(
	'failures', qq(
scaler.database = 'scalerdb'
scaler.naptime = '100ms'
));

sub count_in_log
{
	my ($re) = @_;
	my $log = slurp_file($node->logfile);
	my @hits = ($log =~ /$re/g);
	return scalar(@hits);
}

# no database yet: 2 s is 20 naptimes, still one line
sleep 2;
is(count_in_log(qr/database "scalerdb" named by scaler\.database does not exist; waiting for it/),
	1, 'a missing database is logged once, then waited for');
is(count_in_log(qr/background worker "scaler[^"]*" \(PID \d+\) exited/),
	0, 'and nothing restart-loops');

# a database that takes no connections: one line and a wait, as for a
# missing one (a worker started for it would exit at once, every naptime)
$node->safe_psql('postgres', 'CREATE DATABASE scalerdb ALLOW_CONNECTIONS false');
sleep 2;
is(count_in_log(qr/database "scalerdb" named by scaler\.database does not accept connections; waiting/),
	1, 'a database that allows no connections is logged once, then waited for');
is(count_in_log(qr/background worker "scaler[^"]*" \(PID \d+\) exited/),
	0, 'and nothing restart-loops');

$node->safe_psql('postgres', 'ALTER DATABASE scalerdb ALLOW_CONNECTIONS true');
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'scaler' AND datname = 'scalerdb'"),
	'once the database takes connections, the worker connects to it');

sleep 2;
is(count_in_log(qr/extension "scaler" is not installed in database "scalerdb"; waiting/),
	1, 'a missing extension is logged once, then waited for');
is(count_in_log(qr/background worker "scaler[^"]*" \(PID \d+\) exited/),
	0, 'still no restart loop');

$node->safe_psql(
	'scalerdb', q(
CREATE EXTENSION scaler;
CREATE TABLE public.doomed (LIKE scaler.request_log);
SELECT scaler.create_policy('good', 1, metric => 'rps', function_name => 'f',
                            scale_in_stabilization => '0');
SELECT scaler.create_policy('bad', 1, metric => 'rps', function_name => 'f',
                            source => 'public.doomed');
DROP TABLE public.doomed;
));
ok($node->wait_for_log(qr/extension "scaler" found in database "scalerdb", evaluating policies/),
	'the worker notices the extension');

# 120 requests 20 s ago: 2 rps at target 1 -> 2
$node->safe_psql('scalerdb',
	"INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
	 SELECT now() - interval '20 seconds', 'f', 20, 200 FROM generate_series(1, 120)");
ok( $node->poll_query_until('scalerdb',
		"SELECT capacity = 2 FROM scaler.policies WHERE name = 'good'"),
	'the healthy policy decides while the other fails');
ok( $node->poll_query_until('scalerdb',
		"SELECT failing AND last_error = 'source of policy \"bad\" no longer exists'
		   FROM scaler.policies WHERE name = 'bad'"),
	'the failing policy records its error');
sleep 1;
is(count_in_log(qr/evaluating scaler policy "bad" failed: source of policy "bad" no longer exists/),
	1, 'the failure is logged once, not every tick');
is($node->safe_psql('scalerdb', "SELECT count(*) FROM scaler.decision WHERE policy = 'bad'"),
	'0', 'the failing policy made no decision');
is(count_in_log(qr/background worker "scaler[^"]*" \(PID \d+\) exited/),
	0, 'a failing policy does not take the worker down');

# scaler.enabled = off + reload: no more evaluation
$node->safe_psql('scalerdb', 'ALTER SYSTEM SET scaler.enabled = off');
$node->reload;
# the worker has read the new setting once last_evaluated_at stops moving
ok( $node->poll_query_until('scalerdb', q(
SELECT last_evaluated_at < now() - interval '500 ms' FROM scaler.policies WHERE name = 'good')),
	'after scaler.enabled = off and a reload, evaluation stops');
$node->safe_psql('scalerdb',
	"INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
	 SELECT now() - interval '20 seconds', 'f', 20, 200 FROM generate_series(1, 240)");
sleep 1;
is($node->safe_psql('scalerdb', "SELECT capacity FROM scaler.policies WHERE name = 'good'"),
	'2', 'new traffic makes no decision while disabled');
is($node->safe_psql('scalerdb',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'scaler'"),
	'1', 'the worker is still there, idle');

$node->safe_psql('scalerdb', 'ALTER SYSTEM SET scaler.enabled = on');
$node->reload;
ok( $node->poll_query_until('scalerdb',
		"SELECT capacity = 6 FROM scaler.policies WHERE name = 'good'"),
	'scaler.enabled = on + reload resumes evaluation (360 requests a minute -> 6)');

$node->stop;
done_testing();
