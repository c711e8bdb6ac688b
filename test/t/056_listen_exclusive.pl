# Who holds a scaler-listen subscription: advisory locks taken by another
# role no longer keep a listener out (0.1 used one as the subscription's
# lock, and anyone can take any key), and a listener whose subscription
# another session holds retries with backoff, then takes it once it is free.
use strict;
use warnings;
# ListenUtil.pm sits beside this file (test/tap.sh copies both), or in
# $SCALER_SRCDIR/test/t when that names a checkout
use FindBin;
use lib($ENV{SCALER_SRCDIR} ? "$ENV{SCALER_SRCDIR}/test/t" : $FindBin::RealBin);
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ListenUtil;

my $bin = listen_bin();
my $dir = PostgreSQL::Test::Utils::tempdir;
my $node = new_scaler_node('listen_hold');

sub sql { return $node->safe_psql('postgres', $_[0]); }
sub conn_as { return $node->connstr('postgres') . " user=$_[0]"; }

# alice runs the listener; mallory is another role with every grant a
# listener needs.
sql(q{
	CREATE ROLE alice LOGIN;
	CREATE ROLE mallory LOGIN;
	GRANT USAGE ON SCHEMA scaler TO alice, mallory;
	GRANT SELECT ON scaler.decision TO alice, mallory;
	DO $$
	DECLARE f regprocedure;
	BEGIN
		FOR f IN SELECT p.oid FROM pg_proc p
				 WHERE p.pronamespace = 'scaler'::regnamespace AND p.proname LIKE 'listen%'
		LOOP
			EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO alice, mallory', f);
		END LOOP;
	END
	$$});

my @k8s = ('-d', conn_as('alice'), '--name', 'k8s', '-v');
my $l = start_listener($node, $dir, 'alice1', @k8s);
ok($l->{ready}, 'alice subscribes "k8s"');
is(stop_listener($l), 0, 'and stops');

# --- advisory locks held by another role keep no one out --------------------
# 0.1 locked (380446, subscription id); mallory takes those keys and more.
my $squat = $node->background_psql('postgres', extra_params => [ '-U', 'mallory' ]);
$squat->query_safe(q{SELECT count(pg_advisory_lock(380446, k)) FROM generate_series(1, 20) k});
$squat->query_safe(q{SELECT count(pg_advisory_lock(k)) FROM generate_series(1, 20) k});
is(sql(q{SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted}), '40',
	'mallory holds 40 advisory locks');
$l = start_listener($node, $dir, 'alice2', @k8s);
ok($l->{ready}, 'alice\'s listener resumes its subscription anyway');
my $d4 = decide($node, 'web', 3, 4);
ok(wait_until(sub { grep { decode_json($_)->{id} == $d4 } read_lines($l->{out}) }, 30, 'd4'),
	'and acts');
my $l2 = start_listener($node, $dir, 'fresh', '-d', conn_as('alice'), '--name', 'fresh');
ok($l2->{ready}, 'a new subscription can be made too');
is(stop_listener($l2), 0, 'stopped');
$squat->quit;

# --- a held subscription: retry with backoff, then take it -----------------
is(stop_listener($l), 0, 'alice\'s listener stopped');
my $holder = $node->background_psql('postgres', extra_params => [ '-U', 'alice' ]);
$holder->query_safe(q{SELECT * FROM scaler.listen_subscribe('k8s', 'scaler')});
my %w = (out => "$dir/waiter.out", err => "$dir/waiter.err");
$w{h} = IPC::Run::start([ $bin, @k8s ], '<', \undef, '>>', $w{out}, '2>>', $w{err});
ok( wait_until(
		sub { -f $w{err} && slurp_file($w{err}) =~ /trying again in 1\.0 s/ }, 30,
		'two retries'),
	'a listener whose subscription is held tries again');
my $werr = slurp_file($w{err});
like($werr, qr/subscription "k8s" is in use by another listener/, 'saying why');
like($werr, qr/trying again in 0\.5 s.*trying again in 1\.0 s/s, 'with backoff');
unlike($werr, qr/listening on channel/, 'not subscribed meanwhile');
ok($w{h}->pumpable, 'it did not exit');
$holder->quit;
ok( wait_until(sub { slurp_file($w{err}) =~ /listening on channel/ }, 30,
		'subscribed after release'),
	'once the holding session ends, the listener subscribes');
my $d5 = decide($node, 'api', 5, 6);
ok(wait_until(sub { grep { decode_json($_)->{id} == $d5 } read_lines($w{out}) }, 30, 'd5'),
	'and acts on new decisions');
is(stop_listener(\%w), 0, 'stopped with exit 0');
is_deeply([ map { decode_json($_)->{id} } read_lines($w{out}) ], [$d5],
	'nothing it had acted on before ran again');

$node->stop;
done_testing();
