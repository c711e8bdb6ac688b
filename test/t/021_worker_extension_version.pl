# The worker waits while its database has another version of the extension
# than the library (a database still at 0.1 after the 0.2 package was
# installed): one LOG line with a hint, no tick that fails on SQL objects
# the library's queries do not match, and evaluation from the tick after
# ALTER EXTENSION scaler UPDATE.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;    # ListenUtil.pm, copied beside the test by test/tap.sh
use ListenUtil qw(new_worker_node wait_until);

my $node = new_worker_node(
	'extension_version', qq(
scaler.naptime = '100ms'
));

$node->safe_psql(
	'postgres', q(
CREATE EXTENSION scaler VERSION '0.1';
SELECT scaler.create_policy('old', 1, function_name => 'f');
));

my $log = $node->logfile;
ok( wait_until(
		sub { slurp_file($log) =~ /is version 0\.1, this library is version 0\.2; waiting/ },
		30, 'the waiting line'),
	'the worker says the database is at 0.1 and waits');
like(slurp_file($log), qr/HINT:  Run ALTER EXTENSION scaler UPDATE in that database\./,
	'with a hint to update');
sleep 1;    # ten ticks
my $text = slurp_file($log);
my $waits = () = $text =~ /this library is version 0\.2; waiting/g;
is($waits, 1, 'said once, not every tick');
unlike($text, qr/ERROR/, 'and no tick failed meanwhile');
is($node->safe_psql('postgres', q(SELECT count(*) FROM scaler.policy_state WHERE last_evaluated_at IS NOT NULL)), '0',
	'nothing was evaluated at 0.1');

$node->safe_psql('postgres', 'ALTER EXTENSION scaler UPDATE');
ok( wait_until(
		sub {
			$node->safe_psql('postgres',
				q(SELECT count(*) FROM scaler.policy_state WHERE policy = 'old' AND last_evaluated_at IS NOT NULL)) > 0;
		},
		30, 'a decision after the update'),
	'after ALTER EXTENSION scaler UPDATE the worker evaluates the policy');
like(slurp_file($log), qr/extension "scaler" found in database "postgres", evaluating policies/,
	'and says so');

$node->stop;
done_testing();
