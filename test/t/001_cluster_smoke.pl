# Smoke test for the Perl TAP harness: a node that preloads scaler starts,
# and the extension can be created in it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('smoke');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'scaler'");
$node->start;

is($node->safe_psql('postgres', 'SHOW shared_preload_libraries'),
	'scaler', 'scaler is preloaded');

$node->safe_psql('postgres', 'CREATE EXTENSION scaler');
is( $node->safe_psql(
		'postgres',
		"SELECT count(*) FROM pg_extension WHERE extname = 'scaler'"),
	'1',
	'extension scaler is created');

$node->stop;
done_testing();
