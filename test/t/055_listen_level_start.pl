# scaler-listen's level-triggered start: a new subscription first applies the
# newest decision of each policy on its channel once (coalesced: the older
# ones are not run), then follows new ones; a restart does not apply them
# again, and one cut short is applied on restart; --from-now starts after
# the newest decision instead.
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
my $node = new_scaler_node('listen_level');

sub sql { return $node->safe_psql('postgres', $_[0]); }

# The command records "<subscription> <id> <policy> <to>"; for policy web it
# waits while $dir/block exists.
my $log = "$dir/runs";
write_script(
	"$dir/record.sh", qq{
if [ "\$SCALER_POLICY" = web ]; then
	while [ -f $dir/block ]; do sleep 0.1; done
fi
echo "\$SCALER_SUBSCRIPTION \$SCALER_DECISION_ID \$SCALER_POLICY \$SCALER_TO" >> $log
});
sub runs_of
{
	my ($sub) = @_;
	return [ map { join ' ', (split / /)[ 1 .. 3 ] } grep { /^$sub / } read_lines($log) ];
}

sql(q{
	SELECT scaler.create_policy('api', 1);
	SELECT scaler.create_policy('web', 1);
	SELECT scaler.create_policy('batch', 1, channel => 'other')});

# api's newest decision is older than all of web's, so catch-up has to step
# over web's older ones; "gone" is no policy (any more).
my $a1 = decide($node, 'api', 0, 1);
my $a2 = decide($node, 'api', 1, 2);
my $b1 = decide($node, 'batch', 0, 7, channel => 'other');
my @w = map { decide($node, 'web', $_ - 1, $_) } 1 .. 3;
my $g1 = decide($node, 'gone', 0, 9);
my $newest = $g1;

# --- a new subscription applies each policy's newest decision once ----------
my @lvl = ('--name', 'level', '--exec', "$dir/record.sh");
my $l = start_listener($node, $dir, 'level1', @lvl);
like(slurp_file($l->{err}),
	qr/catching up after decision @{[$a2 - 1]}, first with each policy's newest decision up to $newest/,
	'the listener says it starts with each policy\'s newest decision');
ok(wait_until(sub { @{ runs_of('level') } >= 2 }, 30, 'two runs'),
	'a new subscription acts on the decisions made before it');
sleep 1;    # room for a wrong extra run
is_deeply([ sort @{ runs_of('level') } ], [ sort("$a2 api 2", "$w[2] web 3") ],
	'each policy\'s newest decision ran once: not the older ones, not another channel\'s, not a dropped policy\'s');
ok( wait_until(
		sub {
			sql(q{SELECT done || ' ' || superseded || ' ' || (acked_through >= } . $w[2]
				  . q{) FROM scaler.subscriptions WHERE name = 'level'}) eq '2 0 true';
		},
		30, 'acknowledged'),
	'both acknowledged as done; nothing older is acknowledged, the watermark is past them');

my $a3 = decide($node, 'api', 2, 3);
ok(wait_until(sub { grep { $_ eq "$a3 api 3" } @{ runs_of('level') } }, 30, 'a3'),
	'then it follows new decisions');
is(stop_listener($l), 0, 'stopped');

$l = start_listener($node, $dir, 'level2', @lvl);
my $w4 = decide($node, 'web', 3, 4);
ok(wait_until(sub { grep { $_ eq "$w4 web 4" } @{ runs_of('level') } }, 30, 'w4'),
	'a restarted listener acts on the next decision');
sleep 1;
is(stop_listener($l), 0, 'stopped');
is_deeply([ sort @{ runs_of('level') } ],
	[ sort("$a2 api 2", "$w[2] web 3", "$a3 api 3", "$w4 web 4") ],
	'and applied none of the start decisions again');

# --- a start cut short: the rest is applied after a restart -----------------
open my $blk, '>', "$dir/block" or die;
close $blk;
my @part = ('--name', 'part', '--jobs', '2', '--exec', "$dir/record.sh");
$l = start_listener($node, $dir, 'part1', @part);
ok(wait_until(sub { grep { /^$a3 api/ } @{ runs_of('part') } }, 30, 'api run'),
	'a new subscription applied api\'s newest decision');
ok(wait_done_count($node, 'part', 1),
	'and acknowledged it, while web\'s command still runs');
$l->{h}->signal('KILL');
$l->{h}->finish;
unlink "$dir/block";
ok(wait_until(sub { grep { /^$w4 web/ } @{ runs_of('part') } }, 30, 'web finished'),
	'the orphaned command finished unacknowledged');
$l = start_listener($node, $dir, 'part2', @part);
ok(wait_until(sub { @{ runs_of('part') } >= 3 }, 30, 'web again'),
	'after the restart the unacknowledged start decision runs again');
sleep 1;
is(stop_listener($l), 0, 'stopped');
is_deeply(runs_of('part'), [ "$a3 api 3", "$w4 web 4", "$w4 web 4" ],
	'api\'s was not run again');

# --- the channel's own policies ----------------------------------------------
$l = start_listener($node, $dir, 'other', '-c', 'other', '--name', 'other',
	'--exec', "$dir/record.sh");
ok(wait_until(sub { @{ runs_of('other') } >= 1 }, 30, 'batch'), 'a listener on another channel');
sleep 1;
is(stop_listener($l), 0, 'stopped');
is_deeply(runs_of('other'), ["$b1 batch 7"], 'starts with the newest decision of its channel\'s policy');

# --- print mode: coalesced too -------------------------------------------------
$l = start_listener($node, $dir, 'printer', '--name', 'printer');
ok(wait_until(sub { read_lines($l->{out}) >= 2 }, 30, 'printed'), 'print mode');
sleep 1;
is(stop_listener($l), 0, 'stopped');
is_deeply([ map { decode_json($_)->{id} } read_lines($l->{out}) ], [ $a3, $w4 ],
	'prints each policy\'s newest decision, in id order');

# --- --from-now: the 0.1 behaviour ------------------------------------------------
$l = start_listener($node, $dir, 'now', '--name', 'now', '--from-now', '--exec',
	"$dir/record.sh");
like(slurp_file($l->{err}), qr/catching up after decision $w4$/m,
	'--from-now: the subscription starts after the newest decision');
my $a4 = decide($node, 'api', 3, 4);
ok(wait_until(sub { @{ runs_of('now') } >= 1 }, 30, 'a4'), 'and acts on new ones');
sleep 1;
is(stop_listener($l), 0, 'stopped');
is_deeply(runs_of('now'), ["$a4 api 4"], 'only on new ones');
$l = start_listener($node, $dir, 'now2', '--name', 'now', '--exec', "$dir/record.sh");
my $a5 = decide($node, 'api', 4, 5);
ok(wait_until(sub { @{ runs_of('now') } >= 2 }, 30, 'a5'), 'resumed without --from-now');
sleep 1;
is(stop_listener($l), 0, 'stopped');
is_deeply(runs_of('now'), [ "$a4 api 4", "$a5 api 5" ],
	'resuming an existing subscription is not a new start');

$node->stop;
done_testing();
