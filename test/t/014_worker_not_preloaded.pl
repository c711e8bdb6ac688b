# Without shared_preload_libraries the extension still works: loading the
# library in a session never errors, scaler.evaluate() decides and
# notifies, and no worker runs.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('plain');
$node->init;
$node->start;

$node->safe_psql(
	'postgres', q(
CREATE EXTENSION scaler;
SELECT scaler.create_policy('api', 1, metric => 'rps', function_name => 'api');
INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
SELECT now() - interval '30 seconds', 'api', 20, 200 FROM generate_series(1, 120);
));
is( $node->safe_psql(
		'postgres',
		"SELECT policy || ' ' || from_capacity || '>' || to_capacity FROM scaler.evaluate()"),
	'api 0>2',
	'scaler.evaluate() works without the worker');
is($node->safe_psql('postgres', 'LOAD \'scaler\'; SHOW scaler.naptime'),
	'5s', 'the session settings exist once the library is loaded');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'scaler%'"),
	'0', 'and no worker runs');
ok(!$node->log_contains(qr/ERROR|FATAL/), 'nothing went wrong in the log');

$node->stop;
done_testing();
