# The worker follows a policy's source by OID (issue 8.5).
#
# 0.1 kept the window query's text with the source's name: after ALTER
# TABLE ... RENAME the kept plan was re-parsed under the old name, so the
# policy failed, or, once another role created a relation under the old
# name, read that one with the policy owner's rights.  Here the source is
# renamed, moved to another schema and its schema renamed while the worker
# runs, a look-alike (that would ask for capacity 10) appears under each old
# name, and the policy keeps following its own table.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # ListenUtil.pm, copied beside the test by test/tap.sh
use ListenUtil qw(new_worker_node);

my $node = new_worker_node(
	'source_oid', qq(
scaler.naptime = '100ms'
));

$node->safe_psql(
	'postgres', q(
CREATE EXTENSION scaler;
CREATE ROLE app LOGIN;
CREATE ROLE mallory LOGIN;
GRANT EXECUTE ON FUNCTION scaler.create_policy TO app;
GRANT CREATE ON SCHEMA public TO app, mallory;
CREATE SCHEMA other AUTHORIZATION app;
GRANT CREATE, USAGE ON SCHEMA other TO mallory;
));

# rps over 10 minutes at target 1: capacity = ceil(rows / 600); the rows are
# older than the window's last tenth, so panic mode stays out of it
sub add_rows
{
	my ($table, $n) = @_;
	$node->safe_psql('postgres',
		"SET ROLE app; INSERT INTO $table SELECT now() - interval '90 seconds', 'f', 10, 200
		   FROM generate_series(1, $n)");
}

# a relation under a source's old name that would ask for capacity 10
sub look_alike
{
	my ($name) = @_;
	$node->safe_psql('postgres', qq(
SET ROLE mallory;
CREATE VIEW $name AS
SELECT now() - interval '90 seconds' AS ts, 'f'::text AS function_name,
       10::float8 AS duration_ms, 200 AS status
  FROM generate_series(1, 6000);
GRANT SELECT ON $name TO PUBLIC;
));
}

sub capacity_becomes
{
	my ($want, $name) = @_;
	ok( $node->poll_query_until('postgres',
			"SELECT capacity = $want AND NOT failing FROM scaler.policies WHERE name = 'r'"),
		$name);
}

$node->safe_psql(
	'postgres', q(
SET ROLE app;
CREATE TABLE public.src (ts timestamptz, function_name text, duration_ms float8, status int);
SELECT scaler.create_policy('r', 1, metric => 'rps', source => 'public.src',
                            stable_window => '10 minutes',
                            scale_in_stabilization => '0', tolerance => 0);
));
add_rows('public.src', 1200);
capacity_becomes(2, 'the worker reads the source');

$node->safe_psql('postgres', 'ALTER TABLE public.src RENAME TO src_renamed');
look_alike('public.src');
add_rows('public.src_renamed', 1800);
capacity_becomes(5, 'after RENAME the worker reads the renamed table');

$node->safe_psql('postgres', 'ALTER TABLE public.src_renamed SET SCHEMA other');
look_alike('public.src_renamed');
add_rows('other.src_renamed', 1800);
capacity_becomes(8, 'after SET SCHEMA the worker reads the moved table');

$node->safe_psql('postgres', 'ALTER SCHEMA other RENAME TO moved');
$node->safe_psql('postgres', 'CREATE SCHEMA other AUTHORIZATION mallory');
look_alike('other.src_renamed');
add_rows('moved.src_renamed', 600);
capacity_becomes(9, 'after ALTER SCHEMA RENAME the worker reads the table in its schema');

is( $node->safe_psql('postgres',
		"SELECT count(*) FROM scaler.decision WHERE policy = 'r' AND to_capacity >= 10"),
	'0', 'no look-alike was ever read');
is( $node->safe_psql('postgres',
		"SELECT last_error IS NULL FROM scaler.policies WHERE name = 'r'"),
	't', 'and the policy never failed');
is($node->safe_psql('postgres', "SELECT source FROM scaler.policies WHERE name = 'r'"),
	'moved.src_renamed', 'the policy names its source by its current name');

$node->stop;
done_testing();
