# The worker works whatever defaults its database has: its owner (who need
# not be a superuser) may ALTER DATABASE ... SET default_transaction_read_only,
# default_transaction_isolation or statement_timeout, which every session
# there inherits, the worker's too.  Read-only, every tick used to fail
# ("cannot execute INSERT in a read-only transaction"); at SERIALIZABLE the
# rollups' refresh refuses to run; a statement_timeout of 1 ms would cancel
# its queries.  The worker overrides them for its own session.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # ListenUtil.pm, copied beside the test by test/tap.sh
use ListenUtil qw(new_worker_node wait_until);

my $node = new_worker_node(
	'database_settings', qq(
scaler.naptime = '100ms'
));

$node->safe_psql(
	'postgres', q(
CREATE EXTENSION scaler;
CREATE ROLE app LOGIN;
ALTER DATABASE postgres OWNER TO app;
SELECT scaler.create_policy('db', 1, metric => 'rps', function_name => 'f');
CREATE TABLE public.logs (LIKE scaler.request_log);
INSERT INTO public.logs SELECT now() - interval '3 days' + i * interval '1 minute', 'f', 5, 200
  FROM generate_series(1, 600) i;
SELECT scaler.create_rollup('public.logs');
));
# as the database's owner, not a superuser
$node->safe_psql(
	'postgres', q(
SET ROLE app;
ALTER DATABASE postgres SET default_transaction_read_only = on;
ALTER DATABASE postgres SET default_transaction_isolation = 'serializable';
ALTER DATABASE postgres SET statement_timeout = '1ms';
));
# the worker's next start reads them (as after a restart)
$node->restart;

my $settings = q(SET default_transaction_read_only = off; SET statement_timeout = 0;
SET default_transaction_isolation = 'read committed';);
$node->safe_psql('postgres', $settings . q(
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
SELECT now() - interval '30 seconds', 'f', 10, 200 FROM generate_series(1, 180);));
ok( wait_until(
		sub {
			$node->safe_psql('postgres', $settings
				  . q(SELECT count(*) FROM scaler.decision WHERE policy = 'db' AND to_capacity = 3)) > 0;
		},
		30, 'a decision'),
	'with the database read-only, SERIALIZABLE and a 1 ms statement_timeout by default, the worker decides');
ok( wait_until(
		sub {
			$node->safe_psql('postgres', $settings
				  . q(SELECT watermark IS NOT NULL FROM scaler.rollups WHERE source = 'public.logs'::regclass)) eq 't';
		},
		30, 'a refresh'),
	'and refreshes the rollup');
unlike(slurp_file($node->logfile), qr/read-only transaction|canceling statement|READ COMMITTED/,
	'no tick failed on those settings');

$node->stop;
done_testing();
