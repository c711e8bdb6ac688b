# A policy owner renamed or dropped leaves its pg_cron jobs naming a role
# that no longer exists, and pg_cron 1.4's launcher then fails at each
# start, which stops every job of the cluster.  The worker's upkeep follows
# the owner: the jobs of a renamed owner get its new name, those of a
# dropped owner are unscheduled (scaler._follow_job_owners).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # ListenUtil.pm, copied beside the test by test/tap.sh
use ListenUtil qw(new_worker_node);

my $node = new_worker_node(
	'cron_owner', qq(
scaler.database = 'postgres'
scaler.naptime = '200ms'
), cron => 1);

$node->safe_psql(
	'postgres', q(
CREATE EXTENSION pg_cron;
CREATE EXTENSION scaler;
CREATE ROLE alice LOGIN;
GRANT EXECUTE ON FUNCTION scaler.create_policy(text, float8, text, text, regclass, interval, integer, integer, float8, interval, float8, text, boolean, text),
                          scaler.open_floor(text, integer, interval, text),
                          scaler.schedule_capacity(text, text, integer, interval) TO alice;
GRANT SELECT ON scaler.request_log TO alice;
SET ROLE alice;
SELECT scaler.create_policy('alice_api', 1);
SELECT scaler.schedule_capacity('alice_api', '0 9 * * *', 2, '10 minutes');
RESET ROLE;
));
my $job = q(SELECT j.username FROM cron.job j JOIN scaler.capacity_schedule c ON c.jobid = j.jobid
             WHERE c.policy = 'alice_api');
is($node->safe_psql('postgres', $job), 'alice', 'the job runs as the policy owner');

$node->safe_psql('postgres', 'ALTER ROLE alice RENAME TO alice2');
ok($node->poll_query_until('postgres', "SELECT ($job) = 'alice2'"),
	'after a rename of the owner, the job runs as its new name');
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'"),
	'and the pg_cron launcher runs');

$node->safe_psql('postgres', 'DROP OWNED BY alice2; DROP ROLE alice2');
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM cron.job WHERE jobname LIKE 'scaler\\_capacity\\_%'"),
	'a dropped owner\'s job is unscheduled');
is($node->safe_psql('postgres',
		"SELECT count(*) || ' ' || count(jobid) FROM scaler.capacity_schedule WHERE policy = 'alice_api'"),
	'1 0', 'its schedule stays, without a job');
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_cron launcher'"),
	'and the pg_cron launcher runs');

$node->stop;
done_testing();
