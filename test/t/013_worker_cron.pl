# pg_cron as the clock instead of the worker: a job scheduled with
# cron.schedule('scaler', '* * * * *', 'SELECT scaler.evaluate()') runs
# scaler.evaluate() and its decision appears.
#
# pg_cron 1.4.2 schedules by the minute, so this test really waits for the
# next minute boundary: it polls cron.job_run_details for the job's first
# successful run, bounded at 75 s (the run comes within 60 s).  It is the
# only test that waits that long.  The worker is off (scaler.enabled = off),
# so any decision is the cron job's.
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
	'cron', qq(
scaler.database = 'postgres'
scaler.enabled = off
), cron => 1);

# 60 requests 30 s ago in a 2-minute window: 0.5 rps at target 0.1 -> 5;
# they stay in the window for 90 s, longer than the wait below
$node->safe_psql(
	'postgres', q(
CREATE EXTENSION pg_cron;
CREATE EXTENSION scaler;
SELECT scaler.create_policy('api', 0.1, metric => 'rps', function_name => 'api',
                            stable_window => '2 minutes');
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
SELECT now() - interval '30 seconds', 'api', 20, 200 FROM generate_series(1, 60);
));

my $jobid = $node->safe_psql('postgres',
	"SELECT cron.schedule('scaler', '* * * * *', 'SELECT scaler.evaluate()')");
like($jobid, qr/^\d+$/, 'cron.schedule accepts the documented job');
is($node->safe_psql('postgres', "SELECT command FROM cron.job WHERE jobname = 'scaler'"),
	'SELECT scaler.evaluate()', 'the job runs scaler.evaluate()');
is($node->safe_psql('postgres', 'SELECT count(*) FROM scaler.decision'),
	'0', 'no decision before the job runs (the worker is off)');

my $start = time;
my $status = '';
while (time - $start < 75)
{
	$status = $node->safe_psql('postgres',
		"SELECT string_agg(status, ',') FROM cron.job_run_details WHERE jobid = $jobid");
	last if $status =~ /succeeded|failed/;
	usleep(500_000);
}
like($status, qr/succeeded/, 'pg_cron ran the job (' . int(time - $start) . ' s)');
is( $node->safe_psql(
		'postgres',
		"SELECT policy || ' ' || from_capacity || '>' || to_capacity || ' ' || reason FROM scaler.decision"),
	'api 0>5 target',
	'the decision made by the cron job is recorded');
is($node->safe_psql('postgres', "SELECT capacity FROM scaler.policies WHERE name = 'api'"),
	'5', 'and the policy capacity follows');

$node->stop;
done_testing();
