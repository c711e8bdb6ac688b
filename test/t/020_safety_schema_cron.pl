# Issue 8.1: a schema scaler that someone else created (or can write to) is
# refused by CREATE EXTENSION and by the update from 0.1, and every pg_cron
# job scaler makes runs as the policy's owner: the jobs 0.1 made as the
# extension owner move to their owners on update, a job really runs as its
# owner (pg_cron's own run), and once the owner loses the privilege the job
# fails instead of running with more rights.
#
# pg_cron 1.4.2 fires by the minute: the test waits for two runs of one
# job, each bounded at 75 s.
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
	'safety', qq(
scaler.database = 'postgres'
scaler.enabled = off
), cron => 1);

my ($ret, $out, $err);

# --- CREATE EXTENSION refuses a squatted schema -----------------------------
$node->safe_psql('postgres', q(
CREATE ROLE squatter;
CREATE DATABASE sq;
CREATE DATABASE up;
));
$node->safe_psql('sq', 'CREATE SCHEMA scaler AUTHORIZATION squatter');
$ret = $node->psql('sq', 'CREATE EXTENSION scaler', stderr => \$err);
isnt($ret, 0, 'CREATE EXTENSION fails in a schema scaler another role created');
like($err, qr/ERROR:  schema "scaler" already exists/, 'saying the schema already exists');
like($err, qr/owned by role squatter/, 'naming its owner');
like($err, qr/HINT:  .*Drop or rename the schema/, 'with a hint what to do');
is($node->safe_psql('sq', "SELECT count(*) FROM pg_extension WHERE extname = 'scaler'"),
	'0', 'nothing is installed');

$node->safe_psql('sq', q(
ALTER SCHEMA scaler OWNER TO CURRENT_USER;
GRANT CREATE ON SCHEMA scaler TO squatter;
));
$ret = $node->psql('sq', 'CREATE EXTENSION scaler', stderr => \$err);
isnt($ret, 0, 'nor in one where another role may create objects');
like($err, qr/schema "scaler" lets other roles create objects in it.*\n.*CREATE is granted to squatter/,
	'naming who may');

$node->safe_psql('sq', 'SET ROLE squatter; CREATE FUNCTION scaler.evaluate(int) RETURNS int LANGUAGE sql AS $$SELECT 1$$');
$node->safe_psql('sq', 'REVOKE CREATE ON SCHEMA scaler FROM squatter');
$ret = $node->psql('sq', 'CREATE EXTENSION scaler', stderr => \$err);
isnt($ret, 0, 'nor in one that holds objects already');
like($err, qr/this one holds 1 objects/, 'saying so');

$node->safe_psql('sq', 'DROP FUNCTION scaler.evaluate(int)');
$ret = $node->psql('sq', 'CREATE EXTENSION scaler', stderr => \$err);
is($ret, 0, 'an empty schema of the installing role, closed to others, is accepted');
$ret = $node->psql('sq', 'DROP EXTENSION scaler; CREATE EXTENSION scaler', stderr => \$err);
is($ret, 0, 'so the extension can be dropped and created again (DROP EXTENSION leaves the schema)');

# --- the update from 0.1 refuses one too ------------------------------------
$node->safe_psql('up', q(
CREATE SCHEMA scaler AUTHORIZATION squatter;
CREATE EXTENSION scaler VERSION '0.1';
));
$node->safe_psql('up', 'SET ROLE squatter; CREATE FUNCTION scaler.open_floor(text, int, text, text) RETURNS bigint LANGUAGE sql AS $$SELECT 1::bigint$$');
$ret = $node->psql('up', "ALTER EXTENSION scaler UPDATE TO '0.2'", stderr => \$err);
isnt($ret, 0, 'a 0.1 installed into a squatted schema does not update');
like($err, qr/schema "scaler" is owned by role squatter, not by the extension owner/, 'naming the owner');
$node->safe_psql('up', 'ALTER SCHEMA scaler OWNER TO CURRENT_USER');
$ret = $node->psql('up', "ALTER EXTENSION scaler UPDATE TO '0.2'", stderr => \$err);
isnt($ret, 0, 'nor once the schema is back, while it holds the squatter\'s objects');
like($err, qr/holds objects of other roles.*\n.*function (scaler\.)?open_floor\(text,integer,text,text\) \(squatter\)/,
	'listing them');
$node->safe_psql('up', 'DROP FUNCTION scaler.open_floor(text, int, text, text); GRANT CREATE ON SCHEMA scaler TO squatter');
$ret = $node->psql('up', "ALTER EXTENSION scaler UPDATE TO '0.2'", stderr => \$err);
isnt($ret, 0, 'nor while another role may still create objects in it');
like($err, qr/schema "scaler" lets other roles create objects in it.*\n.*CREATE is granted to squatter/,
	'naming that role');
$node->safe_psql('up', 'REVOKE CREATE ON SCHEMA scaler FROM squatter');
$ret = $node->psql('up', "ALTER EXTENSION scaler UPDATE TO '0.2'", stderr => \$err);
is($ret, 0, 'with the objects gone and the privilege revoked it updates');

# --- pg_cron jobs run as the policy owner ------------------------------------
$node->safe_psql('postgres', q(
CREATE EXTENSION pg_cron;
CREATE EXTENSION scaler VERSION '0.1';
CREATE ROLE alice LOGIN;
CREATE ROLE team NOLOGIN;
CREATE ROLE carol LOGIN;
GRANT SELECT ON scaler.request_log TO alice, team, carol;
GRANT EXECUTE ON FUNCTION scaler.create_policy, scaler.schedule_capacity TO alice, team, carol;
GRANT EXECUTE ON FUNCTION scaler.open_floor TO alice, team;
SET ROLE alice;
SELECT scaler.create_policy('ap', 1, metric => 'rps');
SELECT scaler.schedule_capacity('ap', '* * * * *', 2, '10 minutes');
RESET ROLE;
SET ROLE team;
SELECT scaler.create_policy('tp', 1, metric => 'rps');
RESET ROLE;
SET ROLE carol;
SELECT scaler.create_policy('cp', 1, metric => 'rps');
));
is($node->safe_psql('postgres', "SELECT username FROM cron.job WHERE jobname LIKE 'scaler_%'"),
	'postgres', 'in 0.1 the job alice scheduled runs as the extension owner');
$node->safe_psql('postgres', "ALTER EXTENSION scaler UPDATE TO '0.2'");
is($node->safe_psql('postgres', "SELECT username FROM cron.job WHERE jobname LIKE 'scaler_%'"),
	'alice', 'the update moves it to the policy owner');
my $jobid = $node->safe_psql('postgres', 'SET ROLE alice; SELECT scaler.schedule_capacity(\'ap\', \'* * * * *\', 2, \'10 minutes\')');
is($node->safe_psql('postgres', "SELECT username || ' ' || database FROM cron.job WHERE jobid = $jobid"),
	'alice postgres', 'a job scheduled in 0.2 runs as the policy owner, in this database');

$ret = $node->psql('postgres', "SET ROLE team; SELECT scaler.schedule_capacity('tp', '0 9 * * *', 1, '1 hour')",
	stderr => \$err);
like($err, qr/policy owner team cannot log in, so pg_cron cannot run its job/,
	'scheduling for an owner that cannot log in is refused');
$ret = $node->psql('postgres', "SET ROLE carol; GRANT EXECUTE ON FUNCTION scaler.schedule_capacity TO carol; SELECT scaler.schedule_capacity('cp', '0 9 * * *', 1, '1 hour')",
	stderr => \$err);
like($err, qr/policy owner carol may not execute scaler\.open_floor\(text,integer,interval,text\), which its job runs/,
	'and for an owner that may not run the job\'s function');

sub wait_for_run
{
	my ($pattern, $since) = @_;
	my $start = time;
	my $status = '';
	while (time - $start < 75)
	{
		$status = $node->safe_psql('postgres',
			"SELECT string_agg(status || ': ' || coalesce(return_message, ''), E'\\n' ORDER BY runid) "
			  . "FROM cron.job_run_details WHERE jobid = $jobid AND runid > $since "
			  . "AND status IN ('succeeded', 'failed')");
		last if $status =~ $pattern;
		usleep(500_000);
	}
	return $status;
}

my $status = wait_for_run(qr/succeeded|failed/, 0);
like($status, qr/^succeeded/, 'pg_cron ran the job as alice');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM scaler.capacity_floor WHERE policy = 'ap' AND origin = 'schedule' AND min_capacity = 2"),
	'1', 'and it opened the floor');

my $last = $node->safe_psql('postgres', "SELECT max(runid) FROM cron.job_run_details WHERE jobid = $jobid");
$node->safe_psql('postgres', 'REVOKE EXECUTE ON FUNCTION scaler.open_floor FROM alice');
$status = wait_for_run(qr/succeeded|failed/, $last);
like($status, qr/^failed: ERROR: +permission denied for function open_floor/,
	'once alice may no longer open floors, the job fails (it does not run with more rights)');
is($node->safe_psql('postgres', "SELECT count(*) FROM scaler.capacity_floor WHERE policy = 'ap'"),
	'1', 'and opens no floor');

$node->stop;
done_testing();
