# scaler-listen: catch-up after the listener was down, and every decision run
# exactly once across listener restarts (SIGTERM, kill -9 while idle) and a
# server restart in the middle of a running command.
use strict;
use warnings;
# ListenUtil.pm sits beside this file (test/tap.sh copies both), or in
# $SCALER_SRCDIR/test/t when that names a checkout
use FindBin;
use lib($ENV{SCALER_SRCDIR} ? "$ENV{SCALER_SRCDIR}/test/t" : $FindBin::RealBin);
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ListenUtil;

my $dir = PostgreSQL::Test::Utils::tempdir;
my $log = "$dir/runs";

# The command records its start and end; it sleeps as long as $dir/sleep says.
write_script(
	"$dir/record.sh", qq{
echo "start \$SCALER_DECISION_ID \$SCALER_POLICY \$SCALER_FROM \$SCALER_TO" >> $log
cat > $dir/input.\$SCALER_DECISION_ID
sleep \$(cat $dir/sleep 2>/dev/null || echo 0)
echo "done \$SCALER_DECISION_ID" >> $log
});
sub set_sleep { open my $f, '>', "$dir/sleep" or die; print $f "$_[0]\n"; close $f; }
set_sleep(0);

sub runs_of
{
	my ($id) = @_;
	return scalar grep { /^start $id / } read_lines($log);
}
sub is_done
{
	my ($id) = @_;
	return scalar grep { $_ eq "done $id" } read_lines($log);
}
sub wait_done
{
	my @ids = @_;
	return wait_until(sub { !grep { !is_done($_) } @ids }, 60, "decisions @ids done");
}

my $node = new_scaler_node('listen_eo');
my @args = ('--name', 'eo', '--jobs', '2', '-v', '--exec', "$dir/record.sh");

# --- live decisions --------------------------------------------------------
my $l = start_listener($node, $dir, 'l1', @args);
ok($l->{ready}, 'listener subscribed');
my @all;
my $a1 = decide($node, 'api', 0, 1);
my $w1 = decide($node, 'web', 0, 1);
push @all, $a1, $w1;
ok(wait_done($a1, $w1), 'live decisions run');

my $doc = decode_json(slurp_file("$dir/input.$w1"));
is("$doc->{id} $doc->{policy} $doc->{from} $doc->{to}", "$w1 web 0 1",
	'the command reads the decision as JSON on stdin');
is((grep { /^start $w1 web 0 1$/ } read_lines($log)), 1,
	'SCALER_DECISION_ID, SCALER_POLICY, SCALER_FROM, SCALER_TO are set');

# --- SIGTERM while a command runs: it finishes, then exit 0 -----------------
set_sleep(2);
my $a2 = decide($node, 'api', 1, 2);
push @all, $a2;
ok(wait_until(sub { runs_of($a2) == 1 }, 30, "decision $a2 started"),
	'a slow command started');
is(stop_listener($l), 0, 'SIGTERM during a command: exit 0');
ok(is_done($a2), 'the running command was allowed to finish first');
set_sleep(0);

# --- decisions made while the listener is down -----------------------------
my $w2 = decide($node, 'web', 1, 2);
my $b1 = decide($node, 'batch', 0, 4);
my $a3 = decide($node, 'api', 2, 3);
push @all, $w2, $b1, $a3;
$l = start_listener($node, $dir, 'l2', @args);
ok(wait_done($w2, $b1, $a3), 'catch-up runs what was decided while down');

# --- server restart while a command runs ------------------------------------
set_sleep(3);
my $a4 = decide($node, 'api', 3, 4);
push @all, $a4;
ok(wait_until(sub { runs_of($a4) == 1 }, 30, "decision $a4 started"),
	'a slow command started before the server went down');
# The command finishes while the server is down: its acknowledgement has to
# wait for the reconnect, and the decision must not run again.
$node->stop('fast');
ok(wait_done($a4), 'the command finished while the server was down');
$node->start;
set_sleep(0);
my $w3 = decide($node, 'web', 2, 3);
push @all, $w3;
ok(wait_done($a4, $w3), 'after the server restart both decisions are done');
ok(wait_done_count($node, 'eo', 8),
	'the acknowledgement of the command that finished during the restart was recorded');
like(slurp_file($l->{err}), qr/connection lost.*reconnected/s,
	'the listener reported the lost connection and reconnected');

note("listener stderr around the server restart:\n" . slurp_file($l->{err}));

# --- kill -9 while idle, then restart: nothing runs again -------------------
$l->{h}->signal('KILL');
$l->{h}->finish;
$l = start_listener($node, $dir, 'l3', @args);
my $a5 = decide($node, 'api', 4, 5);
push @all, $a5;
ok(wait_done($a5), 'the restarted listener runs the next decision');
# give a wrongly re-run decision time to show up
sleep 1;
is(stop_listener($l), 0, 'stopped cleanly');

my %runs;
$runs{ (split / /)[1] }++ for grep { /^start / } read_lines($log);
is_deeply(\%runs, { map { $_ => 1 } @all },
	'every decision ran exactly once across two listener restarts and a server restart');
my @api = map { (split / /)[1] } grep { /^start \d+ api / } read_lines($log);
is_deeply(\@api, [ $a1, $a2, $a3, $a4, $a5 ], 'one policy\'s decisions ran in id order');
is(subscription_counts($node, 'eo'),
	"$a5 9 0",
	'the subscription has all nine acknowledged');

$node->stop;
done_testing();
