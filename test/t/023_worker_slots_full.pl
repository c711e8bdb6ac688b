# With no background worker slot left for it, the launcher says so once
# (WARNING, with the hint to raise max_worker_processes), not at every
# naptime, keeps trying, and starts the worker once a restart gives it a
# slot.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FindBin;
use lib $FindBin::RealBin;    # ListenUtil.pm, copied beside the test by test/tap.sh
use ListenUtil qw(new_worker_node);

# the launcher takes the only slot (the logical replication launcher,
# registered after it, would take it otherwise)
my $node = new_worker_node(
	'full', qq(
scaler.database = 'postgres'
scaler.naptime = '100ms'
max_worker_processes = 1
max_logical_replication_workers = 0
));
$node->safe_psql('postgres', 'CREATE EXTENSION scaler');

sub warnings_in_log
{
	my @hits = (slurp_file($node->logfile) =~ /WARNING:  could not start the scaler worker/g);
	return scalar @hits;
}

my $waited = 0;
usleep(100_000) while warnings_in_log() == 0 && $waited++ < 300;
ok(warnings_in_log() > 0, 'the launcher warns that it could not start the worker');
like(slurp_file($node->logfile), qr/HINT:  Increase max_worker_processes\./,
	'with the hint to raise max_worker_processes');

# 20 naptimes later, still one warning, and no worker
usleep(2_000_000);
is(warnings_in_log(), 1, 'said once, not at every naptime');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'scaler'"),
	'0', 'no worker runs');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'scaler launcher'"),
	'1', 'the launcher goes on');

$node->append_conf('postgresql.conf', "max_worker_processes = 8\n");
$node->restart;
ok( $node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'scaler'"),
	'after a restart with slots to spare the worker starts');
is(warnings_in_log(), 1, 'and nothing more is said');

$node->stop;
done_testing();
