# scaler-listen subscriptions belong to the role that created them: another
# role cannot take one over, acknowledge for it or read it through the
# listen_* functions, and a role that may not read scaler.decision learns
# nothing of decisions through them.  (056: who holds a subscription.)
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
my $node = new_scaler_node('listen_owner');

sub sql { return $node->safe_psql('postgres', $_[0]); }
# as sql(), but an error is a value to compare, not the end of the test
sub try_sql
{
	my ($rc, $out, $err) = $node->psql('postgres', $_[0]);
	return $rc == 0 ? $out : $err;
}

# What psql as a role says: stdout and stderr together.
sub as_role
{
	my ($role, $query) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', $query, extra_params => [ '-U', $role ]);
	return "$out$err";
}
# Only what psql as a role got back as rows.
sub rows_as
{
	my ($role, $query) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', $query, extra_params => [ '-U', $role ]);
	return $out;
}
sub conn_as { return $node->connstr('postgres') . " user=$_[0]"; }

# alice runs the real listener, alice_ops is a member of alice, mallory is
# another role with every grant a listener needs, peeker may run the listen
# functions but not read decisions.  EXECUTE is granted on the public
# listen_* functions only, as the documentation says.
sql(q{
	CREATE ROLE alice LOGIN;
	CREATE ROLE alice_ops LOGIN IN ROLE alice;
	CREATE ROLE mallory LOGIN;
	CREATE ROLE peeker LOGIN;
	GRANT USAGE ON SCHEMA scaler TO alice, mallory, peeker;
	GRANT SELECT ON scaler.decision TO alice, mallory;
	DO $$
	DECLARE f regprocedure;
	BEGIN
		FOR f IN SELECT p.oid FROM pg_proc p
				 WHERE p.pronamespace = 'scaler'::regnamespace AND p.proname LIKE 'listen%'
		LOOP
			EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO alice, mallory, peeker', f);
		END LOOP;
	END
	$$});

my @k8s = ('-d', conn_as('alice'), '--name', 'k8s', '-v');
my $l = start_listener($node, $dir, 'alice1', @k8s);
ok($l->{ready}, 'alice subscribes "k8s"');
my $d1 = decide($node, 'api', 1, 2);
my $d2 = decide($node, 'web', 1, 3);
ok(wait_until(sub { read_lines($l->{out}) >= 2 }, 30, 'two decisions printed'),
	'alice\'s listener acts');
is(try_sql(q{SELECT owner || ' ' || (listener_pid IS NOT NULL) FROM scaler.subscriptions WHERE name = 'k8s'}),
	'alice true', 'the subscription belongs to alice and shows its listener\'s backend');
is(stop_listener($l), 0, 'alice\'s listener stopped');
ok( wait_until(
		sub { try_sql(q{SELECT listener_pid IS NULL FROM scaler.subscriptions WHERE name = 'k8s'}) eq 't' },
		10, 'no holder'),
	'and no longer holds it');

# --- another role: no takeover, no acknowledgement, nothing to read ---------
like(as_role('mallory', q{SELECT scaler.listen_subscribe('k8s', 'scaler')}),
	qr/permission denied for subscription "k8s"/,
	'another role cannot take the subscription over');
like(as_role('mallory', q{SELECT * FROM scaler.listen_acked('k8s')}),
	qr/permission denied for subscription "k8s"/,
	'nor read its acknowledgements');
is(rows_as('mallory', q{SELECT * FROM scaler.listen_acked('k8s')}), '',
	'no policy name or decision id shows through');
unlike(as_role('mallory', q{SELECT * FROM scaler.listen_acked('k8s')}),
	qr/\b(api|web)\b/, 'not even in the error');
my $acks = sql(q{SELECT count(*) FROM scaler.subscription_ack WHERE subscription = 'k8s'});
my $d3 = decide($node, 'api', 2, 5);
like(as_role('mallory',
		qq{SELECT scaler.listen_subscribe('k8s', 'scaler'); SELECT scaler.listen_ack('k8s', $d3, 'done', $d3)}),
	qr/permission denied for subscription "k8s"/,
	'nor acknowledge a decision for it');
like(as_role('mallory', qq{SELECT scaler.listen_ack('k8s', $d3, 'superseded', $d3)}),
	qr/permission denied for subscription "k8s"/, 'not even without subscribing');
is(sql(q{SELECT count(*) || ' ' || max(decision_id) FROM scaler.subscription_ack WHERE subscription = 'k8s'}),
	"$acks $d2", 'the subscription\'s acknowledgements are unchanged');
{
	# bounded: a listener that took the subscription over would run on
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start([ $bin, '-d', conn_as('mallory'), '--name', 'k8s' ],
		'<', \undef, '>', \$out, '2>', \$err);
	my $exited = wait_until(sub { $h->pump_nb; !$h->pumpable }, 30, 'mallory\'s listener exits');
	if (!$exited)
	{
		$h->kill_kill;
	}
	$h->finish;
	ok($exited, 'a listener of another role exits');
	is($h->full_result(0) >> 8, 1, 'with status 1');
	like($err, qr/permission denied for subscription "k8s"/, 'saying why');
	like($err, qr/only by the role that created it/, 'and whose it is to use');
	is($out, '', 'having acted on nothing');
}

# A member of alice and a superuser may use it.
$l = start_listener($node, $dir, 'ops', '-d', conn_as('alice_ops'), '--name', 'k8s');
ok($l->{ready}, 'a member of the owner may use the subscription');
ok(wait_until(sub { read_lines($l->{out}) >= 1 }, 30, 'd3 printed'), 'and acts on it');
is(decode_json((read_lines($l->{out}))[0])->{id}, $d3, 'from where alice stopped');
is(stop_listener($l), 0, 'stopped');

# --- a role that cannot read decisions learns nothing through listen_* ------
like(as_role('peeker', q{SELECT * FROM scaler.listen_subscribe('peek', 'scaler')}),
	qr/permission denied for table decision/,
	'listen_subscribe needs SELECT on scaler.decision (it returns decision ids)');
is(sql(q{SELECT count(*) FROM scaler.subscription WHERE name = 'peek'}), '0',
	'and creates nothing');
like(as_role('peeker', q{SELECT * FROM scaler.listen_acked('k8s')}),
	qr/permission denied for table decision/, 'listen_acked too');
like(as_role('peeker', q{SELECT * FROM scaler.listen_policy_channels()}),
	qr/permission denied for table decision/, 'listen_policy_channels too (policy names)');
like(as_role('peeker', q{SELECT * FROM scaler.listen_decisions(0)}),
	qr/permission denied for (table|function)/, 'listen_decisions too');
like(as_role('peeker', q{SELECT scaler.listen_ack('k8s', 1, 'done', 0)}),
	qr/permission denied for table decision/, 'listen_ack too');
is(rows_as('peeker', q{SELECT * FROM scaler.listen_subscribe('peek', 'scaler')}), '',
	'no id shows through');

$node->stop;
done_testing();
