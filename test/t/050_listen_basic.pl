# scaler-listen: usage, clear errors, the print mode, and payloads treated as
# hints only (a forged NOTIFY is ignored).
use strict;
use warnings;
# ListenUtil.pm sits beside this file (test/tap.sh copies both), or in
# $SCALER_SRCDIR/test/t when that names a checkout
use FindBin;
use lib($ENV{SCALER_SRCDIR} ? "$ENV{SCALER_SRCDIR}/test/t" : $FindBin::RealBin);
use IO::Socket::INET;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ListenUtil;

my $bin = listen_bin();
my $dir = PostgreSQL::Test::Utils::tempdir;

command_checks_all([ $bin, '--help' ], 0,
	[ qr/--exec=COMMAND/, qr/--jobs=N/, qr/--name=NAME/, qr/SCALER_DECISION_ID/ ],
	[qr/^$/], '--help prints usage and exits 0');
command_checks_all([ $bin, '--bogus' ], 2, [qr/^$/],
	[qr/unrecognized option/, qr/Try "scaler-listen --help"/],
	'an unknown option is a usage error (2)');
command_checks_all([ $bin, '--jobs', '0' ], 2, [qr/^$/],
	[qr/invalid --jobs "0"/], '--jobs 0 is rejected');
command_checks_all([ $bin, '-c', 'c' x 64 ], 2, [qr/^$/],
	[qr/is longer than 63 bytes/],
	'a channel over 63 bytes is a usage error (LISTEN would cut it, no policy could match it)');

command_checks_all(
	[ $bin, '-d', "host=$dir/nonexistent port=1 dbname=postgres connect_timeout=2" ],
	1, [qr/^$/],
	[qr/could not connect to the database/],
	'an unreachable server is reported and exits 1');
command_checks_all([ $bin, '-d', 'this is not a conninfo' ],
	1, [qr/^$/], [qr/could not connect to the database: .*missing "="/],
	'a malformed conninfo is reported and exits 1');

my $node = new_scaler_node('listen_basic');
# A server that accepts the connection and never answers: the kernel
# completes the handshake for a socket that listens, nobody reads.
sub silent_socket
{
	my $socket = IO::Socket::INET->new(
		Listen => 5,
		LocalAddr => '127.0.0.1',
		LocalPort => 0,
		Proto => 'tcp') or die "cannot listen: $!";
	return $socket;
}
my $mute = silent_socket();
my $mute_port = $mute->sockport;
# (within 30 s: a listener that waited for the silent server would hang here)
sub run_briefly
{
	my ($conninfo) = @_;
	my ($out, $err) = ('', '');
	my $finished = eval {
		IPC::Run::run([ $bin, '-d', $conninfo ],
			'<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(30));
		1;
	};
	return ($finished ? $? >> 8 : 'still running after 30 s', $err);
}
# the connections the silent server was asked for (its queue, emptied)
sub connections_made
{
	my $n = 0;
	$mute->blocking(0);
	while (my $c = $mute->accept) { $n++; close $c; }
	$mute->blocking(1);
	return $n;
}
my ($rc, $err) = run_briefly("host=127.0.0.1 port=$mute_port dbname=postgres connect_timeout=2");
is($rc, 1, 'connect_timeout bounds a connection to a server that does not answer: exit 1');
like($err, qr/could not connect to the database: .*timeout expired/, 'and says so');
is(connections_made(), 1, 'in one connection (libpq\'s own, not one started and dropped before it)');
{
	local $ENV{PGCONNECT_TIMEOUT} = '2';
	($rc, $err) = run_briefly("host=127.0.0.1 port=$mute_port dbname=postgres");
	is($rc, 1, 'PGCONNECT_TIMEOUT bounds it too: exit 1');
	like($err, qr/timeout expired/, 'and says so');
	is(connections_made(), 1, 'in one connection');
}
{
	# a service file's connect_timeout, which only a started connection tells
	my $services = "$dir/pg_service.conf";
	open(my $fh, '>', $services) or die "cannot write $services: $!";
	print $fh "[silent]\nhost=127.0.0.1\nport=$mute_port\nconnect_timeout=2\n";
	close $fh;
	local $ENV{PGSERVICEFILE} = $services;
	($rc, $err) = run_briefly("service=silent dbname=postgres");
	is($rc, 1, 'a service file\'s connect_timeout bounds it too: exit 1');
	like($err, qr/timeout expired/, 'and says so');
	connections_made();
}
($rc, $err) = run_briefly("host=127.0.0.1 port=$mute_port dbname=postgres connect_timeout=abc");
is($rc, 1, 'a connect_timeout that is not a number is refused: exit 1');
like($err, qr/invalid integer value "abc" for connection option "connect_timeout"/, 'and says so');
# connect_timeout=0 is libpq's "wait for ever": as without one, a stop
# signal gives the attempt up
for my $timeout ('', ' connect_timeout=0')
{
	my ($out, $err) = ('', '');
	my $what = $timeout eq '' ? 'without connect_timeout' : 'with connect_timeout=0';
	my $h = IPC::Run::start(
		[ $bin, '-d', "host=127.0.0.1 port=$mute_port dbname=postgres$timeout" ],
		'<', \undef, '>', \$out, '2>', \$err);
	sleep 2;
	ok($h->pumpable, "$what the listener waits for the silent server");
	my $t0 = time;
	$h->signal('TERM');
	$h->finish;
	cmp_ok(time - $t0, '<', 10, "$what, SIGTERM while connecting: the listener exits promptly");
	is($h->full_result(0) >> 8, 0, 'with status 0 (a stop, not a failure)');
	like($err, qr/stopped while connecting/, 'and says so');
	unlike($err, qr/reconnecting/, 'without promising to reconnect');
}

# connect_timeout applies to each host, as libpq's: a silent first host is
# given up on after it and the next one connects (a socket of its own: the
# connections above fill the first one's queue, which makes a new one fail
# at once, and libpq then goes on to the next host by itself)
{
	my $mute2 = silent_socket();
	my $mute_port = $mute2->sockport;
	my $h = IPC::Run::start(
		[
			$bin, '-d',
			"host=127.0.0.1," . $node->host . " port=$mute_port," . $node->port
			  . " dbname=postgres connect_timeout=2"
		],
		'<', \undef, '>', \my $mout, '2>', \my $merr);
	wait_until(
		sub {
			$h->pump_nb if $h->pumpable;
			$merr =~ /listening on channel|could not connect/;
		},
		30,
		'failover');
	like($merr, qr/listening on channel/,
		'connect_timeout with two hosts: the second one connects after the silent first');
	$h->signal('TERM') if $h->pumpable;
	$h->finish;
	close $mute2;
}
close $mute;
$node->safe_psql('postgres', 'CREATE DATABASE noext');
my $noext = $node->connstr('noext');
command_checks_all([ $bin, '-d', $noext ], 1, [qr/^$/],
	[
		qr/extension "scaler" is not installed in database "noext"/,
		qr/HINT: Run CREATE EXTENSION scaler/
	],
	'a database without the extension is reported and exits 1');

# A role without the grants gets one message naming what is missing.
$node->safe_psql('postgres', 'CREATE ROLE watcher LOGIN');
my $as_watcher = $node->connstr('postgres') . ' user=watcher';
command_checks_all([ $bin, '-d', $as_watcher ], 1, [qr/^$/],
	[
		qr/permission denied: role "watcher" may not read and acknowledge scaler decisions/,
		qr/GRANT SELECT ON scaler\.decision TO "watcher"/
	],
	'a role without privileges is reported and exits 1');
# the functions that change subscriptions are not executable by PUBLIC
($rc, my $stdout, my $stderr) = $node->psql('postgres',
	q{SELECT scaler.listen_subscribe('x', 'scaler')},
	extra_params => [ '-U', 'watcher' ]);
like($stderr, qr/permission denied for (schema scaler|function listen_subscribe)/,
	'PUBLIC cannot call scaler.listen_subscribe');

# The grants from the hint are enough.
$node->safe_psql(
	'postgres', q{
	GRANT USAGE ON SCHEMA scaler TO watcher;
	GRANT SELECT ON scaler.decision TO watcher;
	GRANT EXECUTE ON FUNCTION scaler.listen_subscribe(text, text, boolean),
		scaler.listen_acked(text), scaler.listen_ack(text, bigint, text, bigint),
		scaler.listen_policy_channels()
		TO watcher});
my $wl = start_listener($node, $dir, 'watcher', '-d', $as_watcher, '--name', 'w');
ok($wl->{ready}, 'the granted role can listen');
is(stop_listener($wl), 0, 'and stops with exit 0 on SIGTERM');

# A new subscription starts with the newest decision of each policy that
# exists; "api" is no policy here (decide() writes decisions directly), so its
# decision made before the subscription is not delivered.
my $old = decide($node, 'api', 0, 1);

# Print mode: one JSON line per decision, read back from the table.
my $p = start_listener($node, $dir, 'printer', '--name', 'printer', '-v');
ok($p->{ready}, 'print-mode listener subscribed');
my @ids = (decide($node, 'api', 1, 2), decide($node, 'web', 0, 3),
	decide($node, 'api', 2, 4));
ok(wait_until(sub { read_lines($p->{out}) >= 3 }, 30, 'three printed decisions'),
	'three decisions printed');
my @docs = map { decode_json($_) } read_lines($p->{out});
is_deeply([ map { $_->{id} } @docs ], \@ids, 'printed in id order, the old decision not at all');
is_deeply(
	[ map { "$_->{policy} $_->{from} $_->{to} $_->{reason} $_->{metric}" } @docs ],
	[ 'api 1 2 test concurrency', 'web 0 3 test concurrency', 'api 2 4 test concurrency' ],
	'each line carries the row: policy, from, to, reason, metric');
ok(exists $docs[0]{decided_at} && exists $docs[0]{value} && exists $docs[0]{target},
	'and decided_at, value, target');

# A forged NOTIFY (anyone may NOTIFY) names an id that does not exist and
# lies about the capacity: it must not produce anything.
$node->safe_psql('postgres',
	q{SELECT pg_notify('scaler', '{"id": 999999, "policy": "api", "from": 1, "to": 50}')});
ok(wait_until(sub { slurp_file($p->{err}) =~ /999999/ }, 30, 'forged notification seen'),
	'the forged notification reached the listener');
my $next = decide($node, 'api', 4, 5);
ok(wait_until(sub { read_lines($p->{out}) >= 4 }, 30, 'fourth decision'),
	'a real decision after it is printed');
@docs = map { decode_json($_) } read_lines($p->{out});
is_deeply([ map { $_->{id} } @docs ], [ @ids, $next ],
	'the forged notification produced nothing');
unlike(slurp_file($p->{out}), qr/999999|"to" : 50/, 'no trace of the forged payload');

# Nor can a payload forge a line of the listener's log (-v shows it) or
# send the terminal escape sequences: its line breaks are indented and its
# control characters escaped.
$node->safe_psql('postgres',
	q{SELECT pg_notify('scaler', E'x\nscaler-listen: acknowledged decision 7 (policy "api") as done\x1b[2J')});
ok(wait_until(sub { slurp_file($p->{err}) =~ /\\x1b\[2J/ }, 30, 'escaped payload logged'),
	'a payload\'s escape character is logged as \\x1b');
unlike(slurp_file($p->{err}), qr/^scaler-listen: acknowledged decision 7 /m,
	'and its line break does not start a line of the log');
$node->safe_psql('postgres', q{SELECT pg_notify('scaler', E'c1 \u009b[1m ok \u00e9')});
ok(wait_until(sub { slurp_file($p->{err}) =~ /c1 \\xc2\\x9b\[1m ok \x{c3}\x{a9}/ }, 30, 'C1 control escaped'),
	'so is a C1 control character (the 8-bit CSI), while other UTF-8 text is kept');

# A second listener on the same subscription would run decisions twice: it
# waits, trying again with backoff, and acts on nothing meanwhile.
{
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start([ $bin, '-d', $node->connstr('postgres'), '--name', 'printer' ],
		'<', \undef, '>', \$out, '2>', \$err);
	ok( wait_until(
			sub { $h->pump_nb; $err =~ /trying again in 1\.0 s/ }, 30,
			'second listener retried twice'),
		'a second listener on a subscription in use waits and tries again');
	like($err, qr/subscription "printer" is in use by another listener: The session of backend \d+ holds it/,
		'saying who holds it');
	unlike($err, qr/listening on channel/, 'it did not subscribe');
	ok($h->pumpable, 'and is still running');
	$h->signal('TERM');
	$h->finish;
	is($h->full_result(0) >> 8, 0, 'SIGTERM while waiting: exit 0');
	is($out, '', 'it printed nothing');
}

# The SQL functions refuse what would break the guarantees.
sub psql_err
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', $sql);
	return $err;
}
like(psql_err(q{SELECT scaler.listen_ack('printer', 1, 'done', 0)}),
	qr/subscription "printer" is not held by this session/,
	'only the session holding a subscription may acknowledge for it');
like(psql_err(q{SELECT scaler.listen_subscribe('printer', 'scaler')}),
	qr/subscription "printer" is in use by another listener/,
	'nor take it over while its listener runs');
like(psql_err(q{SELECT scaler.listen_subscribe('x', 'scaler'), scaler.listen_ack('x', 1, 'maybe', 0)}),
	qr/invalid outcome "maybe"/, 'an unknown outcome is rejected');
like(psql_err(q{SELECT scaler.listen_ack('nobody', 1, 'done', 0)}),
	qr/subscription "nobody" does not exist/, 'an unknown subscription is rejected');
like(psql_err(q{SELECT scaler.listen_subscribe('', 'scaler')}),
	qr/subscription name must not be empty/, 'an empty name is rejected');

is(stop_listener($p), 0, 'SIGTERM: exit 0');
is(subscription_counts($node, 'printer'),
	"$next 4 0",
	'every printed decision is acknowledged, and the watermark is the newest id');

# A decision whose NOTIFY never came (a full notification queue) is still
# read, on the next periodic read.
$p = start_listener($node, $dir, 'poller', '--name', 'poller', '--poll-interval', '0.5');
my $silent = $node->safe_psql('postgres', q{
	INSERT INTO scaler.decision
		(policy, metric, value, target, from_capacity, to_capacity, reason)
	VALUES ('api', 'rps', 1, 1, 5, 6, 'no notify') RETURNING id});
ok(wait_until(sub { read_lines($p->{out}) >= 1 }, 10, 'decision without NOTIFY'),
	'--poll-interval: a decision without a NOTIFY is read anyway');
is(stop_listener($p), 0, 'stopped');
is(decode_json((read_lines($p->{out}))[0])->{id}, $silent, 'it is that decision');

# Restarting the print-mode listener prints nothing twice.
$p = start_listener($node, $dir, 'printer2', '--name', 'printer');
my $last = decide($node, 'web', 3, 1);
ok(wait_until(sub { read_lines($p->{out}) >= 2 }, 30, 'resumed printer'),
	'restarted listener prints what was decided since it stopped');
is(stop_listener($p, 'INT'), 0, 'SIGINT: exit 0');
is_deeply([ map { decode_json($_)->{id} } read_lines($p->{out}) ], [ $silent, $last ],
	'that and nothing it had printed before');

# Channels: a listener acts on the decisions of the policies on its channel
# (and of policies that no longer exist, whose channel nobody knows).
if ($node->safe_psql('postgres', q{SELECT to_regclass('scaler.policy') IS NOT NULL}) eq 't')
{
	$node->safe_psql(
		'postgres', q{
		SELECT scaler.create_policy('prod', 1, channel => 'prod');
		SELECT scaler.create_policy('staging', 1, channel => 'staging')});
}
else
{
	# before the policy API is merged: a stand-in with the columns used
	$node->safe_psql(
		'postgres', q{
		CREATE TABLE scaler.policy (name text PRIMARY KEY, channel text NOT NULL);
		INSERT INTO scaler.policy VALUES ('prod', 'prod'), ('staging', 'staging')});
}
my $lprod = start_listener($node, $dir, 'prod', '-c', 'prod', '-p', '0.5');
my $lstg = start_listener($node, $dir, 'staging', '-c', 'staging', '-p', '0.5');
my $dprod = decide($node, 'prod', 1, 2, channel => 'prod');
my $dstg = decide($node, 'staging', 1, 3, channel => 'staging');
my $dgone = decide($node, 'gone', 1, 4, channel => 'prod');
ok( wait_until(
		sub { read_lines($lprod->{out}) >= 2 && read_lines($lstg->{out}) >= 2 },
		30, 'both channels'),
	'both channel listeners acted');
sleep 1;    # room for a wrong extra line
is(stop_listener($lprod), 0, 'prod listener stopped');
is(stop_listener($lstg), 0, 'staging listener stopped');
is_deeply([ map { decode_json($_)->{id} } read_lines($lprod->{out}) ],
	[ $dprod, $dgone ], 'the "prod" listener ran prod\'s decision and the orphan');
is_deeply([ map { decode_json($_)->{id} } read_lines($lstg->{out}) ],
	[ $dstg, $dgone ], 'the "staging" listener ran staging\'s decision and the orphan');
is( $node->safe_psql(
		'postgres',
		q{SELECT string_agg(name || ' ' || acked_through || ' ' || done, ', ' ORDER BY name)
		  FROM scaler.subscriptions WHERE name IN ('prod', 'staging')}),
	"prod $dgone 2, staging $dgone 2",
	'other channels\' decisions do not hold back the watermark');

# A policy that moves onto the channel of a running listener: the listener
# stepped over its decisions as another channel's, and acknowledged newer
# ones past them; the move wakes it (no polling here) and it runs the
# newest of them, not the older one.
$lprod = start_listener($node, $dir, 'prod-move', '--name', 'prod', '-c', 'prod', '-p', '0');
my $dmove_old = decide($node, 'staging', 3, 5, channel => 'staging');
my $dmove_new = decide($node, 'staging', 5, 6, channel => 'staging');
my $dprod2 = decide($node, 'prod', 2, 3, channel => 'prod');
ok( wait_until(
		sub { (subscription_counts($node, 'prod') =~ /^(\d+)/)[0] >= $dprod2 },
		30, 'prod acknowledged past the staging decisions'),
	'the watermark passed the decisions stepped over');
$node->safe_psql('postgres', q{SELECT scaler.alter_policy('staging', channel => 'prod')});
ok(wait_until(sub { read_lines($lprod->{out}) >= 2 }, 30, 'moved policy'),
	'the running listener acted on the moved policy');
my $dmoved = decide($node, 'staging', 6, 7, channel => 'prod');
ok(wait_until(sub { read_lines($lprod->{out}) >= 3 }, 30, 'after the move'),
	'and on its decisions from then on');
sleep 1;    # room for a wrong extra line
is(stop_listener($lprod), 0, 'prod listener stopped again');
is_deeply([ map { decode_json($_)->{id} } read_lines($lprod->{out}) ],
	[ $dprod2, $dmove_new, $dmoved ],
	'it ran the moved policy\'s newest decision once, then the new one');

$node->stop;
done_testing();
