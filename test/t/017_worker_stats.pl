# The worker reports its table statistics (issue 8.6).
#
# 0.1's worker never called pgstat_report_stat, so its updates of
# scaler.policy_state and its retention deletes from scaler.decision never
# reached pg_stat_user_tables, and autovacuum never saw them.  Nothing but
# the worker updates or deletes here: the test only inserts.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # ListenUtil.pm, copied beside the test by test/tap.sh
use ListenUtil qw(new_worker_node);

my $node = new_worker_node(
	'stats', qq(
scaler.naptime = '100ms'
scaler.decision_retention = '1h'
));

$node->safe_psql(
	'postgres', q(
CREATE EXTENSION scaler;
SELECT scaler.create_policy('s' || n, 1, metric => 'rps') FROM generate_series(1, 3) n;
INSERT INTO scaler.decision (policy, decided_at, metric, value, target,
                             from_capacity, to_capacity, reason)
SELECT 's1', now() - interval '2 days', 'rps', 1, 1, 0, 1, 'target'
  FROM generate_series(1, 25);
));

ok( $node->poll_query_until(
		'postgres', q(
SELECT n_tup_upd >= 30 FROM pg_stat_user_tables
 WHERE schemaname = 'scaler' AND relname = 'policy_state')),
	"pg_stat_user_tables counts the worker's updates of policy_state");
ok( $node->poll_query_until(
		'postgres', q(
SELECT n_tup_del = 25 FROM pg_stat_user_tables
 WHERE schemaname = 'scaler' AND relname = 'decision')),
	"and its retention deletes from decision");
is($node->safe_psql('postgres', 'SELECT count(*) FROM scaler.decision'),
	'0', 'the old decisions are gone');

$node->stop;
done_testing();
