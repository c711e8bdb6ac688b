# The background worker decides and a LISTENing client is woken: a burst of
# inserted rows reaches a listener as a NOTIFY within a bounded time, and
# the payload matches the scaler.decision row.  Also: a decision made by
# scaler.evaluate() in an open transaction is not announced before commit,
# is announced once after it, and a concurrent evaluate() adds nothing.
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
	'notify', qq(
scaler.database = 'postgres'
scaler.naptime = '200ms'
));

$node->safe_psql(
	'postgres', q(
CREATE EXTENSION scaler;
SELECT scaler.create_policy('api', 1, metric => 'rps', function_name => 'api',
                            stable_window => '10 seconds', scale_in_stabilization => '0');
SELECT scaler.create_policy('manual', 1, metric => 'rps', function_name => 'manual',
                            stable_window => '1 minute', channel => 'manual_channel',
                            enabled => false);
));

# Collect notification payloads seen by a background psql until $want have
# arrived or $timeout seconds pass.
sub collect
{
	my ($session, $want, $timeout) = @_;
	my @got;
	my $start = time;
	while (time - $start < $timeout)
	{
		my $out = $session->query('SELECT 1');
		push @got, ($out =~ /payload "(.*?)" received from server process/g);
		last if @got >= $want;
		usleep(100_000);
	}
	return @got;
}

# Does this payload match its scaler.decision row field by field?
sub payload_matches_row
{
	my ($payload) = @_;
	(my $lit = $payload) =~ s/'/''/g;
	return $node->safe_psql(
		'postgres', qq(
SELECT count(*) FROM scaler.decision d, (SELECT '$lit'::json AS p) j
 WHERE d.id = (p->>'id')::bigint
   AND d.policy = p->>'policy'
   AND d.from_capacity = (p->>'from')::int
   AND d.to_capacity = (p->>'to')::int
   AND d.reason = p->>'reason'
   AND d.metric = p->>'metric'
   AND d.target = (p->>'target')::float8
   AND d.value IS NOT DISTINCT FROM (p->>'value')::float8
   AND d.decided_at = (p->>'decided_at')::timestamptz
));
}

my $listener = $node->background_psql('postgres', on_error_stop => 0);
$listener->query_safe('LISTEN scaler');
$listener->query_safe('LISTEN manual_channel');

# a burst: 50 requests 3 seconds ago, outside the panic tail (last 1 s):
# 5 rps over a 10 s window at target 1 -> 5
my $t0 = time;
$node->safe_psql('postgres',
	"INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
	 SELECT now() - interval '3 seconds', 'api', 20, 200 FROM generate_series(1, 50)");

my @got = collect($listener, 1, 30);
my $elapsed = time - $t0;
ok(@got >= 1, 'the listener received a NOTIFY for the burst');
cmp_ok($elapsed, '<', 10, "within a bounded time (took ${elapsed}s, naptime 200ms)");
like($got[0], qr/"policy" : "api".*"from" : 0, "to" : 5, "reason" : "target"/,
	'the payload says api went from 0 to 5 by target tracking');
is(payload_matches_row($got[0]), '1', 'the payload matches its scaler.decision row');
like($got[0], qr/"decided_at" : "/, 'the payload carries decided_at');
like($got[0], qr/"target" : 1[,}]/, 'the payload carries the target');
# one JSON for a decision: what a listener reads when it catches up from the
# table is the NOTIFY payload, to the byte
(my $lit0 = $got[0]) =~ s/'/''/g;
is($node->safe_psql('postgres', qq(
SELECT l.payload = '$lit0' FROM scaler.listen_decisions(('$lit0'::json->>'id')::bigint - 1, 1) l)),
	't', 'the NOTIFY payload is the payload listen_decisions hands on');

# once the burst leaves the 10 s window, traffic reads 0: scale to zero
my @zero = collect($listener, 1, 30);
like($zero[0] // '', qr/"policy" : "api".*"from" : 5, "to" : 0, "reason" : "no_traffic"/,
	'when the traffic stops, the worker scales to zero and says so');
is(payload_matches_row($zero[0] // '{}'), '1', 'that payload matches its row too');

# evaluate() in an open transaction: nothing announced before commit
$node->safe_psql('postgres',
	"INSERT INTO scaler.request_log (ts, function_name, duration_ms, status)
	 SELECT now() - interval '20 seconds', 'manual', 20, 200 FROM generate_series(1, 120)");
my $s1 = $node->background_psql('postgres');
my $s2 = $node->background_psql('postgres');
$s1->query_safe('BEGIN');
my $made = $s1->query_safe(
	"SELECT policy || ':' || to_capacity FROM scaler.evaluate('manual')");
is($made, 'manual:2', 'evaluate() decides manual 0 -> 2 (120 requests a minute at target 1)');
is($s2->query_safe("SELECT count(*) FROM scaler.evaluate('manual')"),
	'0', 'a concurrent evaluate() makes no second decision');
my @early = collect($listener, 1, 1.5);
is(scalar(grep { /"policy" : "manual"/ } @early), 0, 'no NOTIFY before commit');
$s1->query_safe('COMMIT');
my @late = collect($listener, 1, 10);
sleep 1;
push @late, collect($listener, 99, 0.5);
my @manual = grep { /"policy" : "manual"/ } @late;
is(scalar(@manual), 1, 'exactly one NOTIFY after commit');
is($s2->query_safe("SELECT count(*) FROM scaler.evaluate('manual')"),
	'0', 'evaluating after the commit decides nothing new');
is($node->safe_psql('postgres', "SELECT count(*) FROM scaler.decision WHERE policy = 'manual'"),
	'1', 'one decision row');
is(payload_matches_row($manual[0] // '{}'), '1', 'and the payload matches it');

is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'scaler'"),
	'1', 'pg_stat_activity shows the worker as scaler');

$s1->quit;
$s2->quit;
$listener->quit;
$node->stop;
done_testing();
