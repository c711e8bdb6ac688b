# scaler-listen's job runner: coalescing queued decisions of a policy to the
# newest, the --jobs bound on concurrent commands, and a failing command
# retried with backoff while other policies proceed.
use strict;
use warnings;
# ListenUtil.pm sits beside this file (test/tap.sh copies both), or in
# $SCALER_SRCDIR/test/t when that names a checkout
use FindBin;
use lib($ENV{SCALER_SRCDIR} ? "$ENV{SCALER_SRCDIR}/test/t" : $FindBin::RealBin);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use List::Util qw(max);
use ListenUtil;

my $dir = PostgreSQL::Test::Utils::tempdir;
my $node = new_scaler_node('listen_runner');

sub sql { return $node->safe_psql('postgres', $_[0]); }

# --- coalescing during catch-up: five queued, one run -----------------------
my $colog = "$dir/co.runs";
write_script("$dir/co.sh",
	qq{echo "\$SCALER_DECISION_ID \$SCALER_POLICY \$SCALER_TO" >> $colog\n});
my @co = ('--name', 'co', '--exec', "$dir/co.sh");
my $l = start_listener($node, $dir, 'co0', @co);
is(stop_listener($l), 0, 'subscription "co" created');

my @five = map { decide($node, 'api', $_ - 1, $_) } 1 .. 5;
my $web = decide($node, 'web', 0, 2);
$l = start_listener($node, $dir, 'co1', @co);
ok(wait_until(sub { read_lines($colog) >= 2 }, 30, 'coalesced runs'),
	'catch-up ran the queued decisions');
sleep 1;    # room for a wrong extra run to show up
is_deeply([ sort(read_lines($colog)) ], [ "$five[4] api 5", "$web web 2" ],
	'five queued decisions of one policy ran one command, with the newest');
is( sql(q{SELECT string_agg(decision_id || ':' || outcome, ' ' ORDER BY decision_id)
		  FROM scaler.subscription_ack WHERE subscription = 'co' AND policy = 'api'}),
	join(' ', (map { "$_:superseded" } @five[ 0 .. 3 ]), "$five[4]:done"),
	'the four older ones are acknowledged as superseded');

# --- coalescing while a command runs ----------------------------------------
write_script("$dir/co.sh",
	qq{echo "\$SCALER_DECISION_ID \$SCALER_POLICY \$SCALER_TO" >> $colog\nsleep 2\n});
unlink $colog;
my $b1 = decide($node, 'api', 5, 6);
ok(wait_until(sub { read_lines($colog) >= 1 }, 30, 'first live run'), 'a slow command runs');
my @queued = map { decide($node, 'api', 5 + $_, 6 + $_) } 1 .. 3;
ok(wait_until(sub { read_lines($colog) >= 2 }, 30, 'second live run'),
	'after it, the next command runs');
sleep 1;
is_deeply([ read_lines($colog) ], [ "$b1 api 6", "$queued[2] api 9" ],
	'decisions queued behind a running command coalesce to the newest');
is(stop_listener($l), 0, 'stopped');

# --- --jobs bounds the commands running at once -----------------------------
my $jlog = "$dir/jobs.log";
write_script("$dir/jobs.sh", qq{echo "+ \$SCALER_POLICY" >> $jlog
sleep 1
echo "- \$SCALER_POLICY" >> $jlog
});
$l = start_listener($node, $dir, 'jobs0', '--name', 'jobs');
is(stop_listener($l), 0, 'subscription "jobs" created');
decide($node, "p$_", 0, 1) for 1 .. 6;
$l = start_listener($node, $dir, 'jobs1', '--name', 'jobs', '--jobs', '2',
	'--exec', "$dir/jobs.sh");
ok(wait_until(sub { (grep { /^-/ } read_lines($jlog)) == 6 }, 30, 'six commands done'),
	'six policies, six commands');
my ($now, @running) = (0);
for (read_lines($jlog))
{
	$now += /^\+/ ? 1 : -1;
	push @running, $now;
}
is(max(@running), 2, 'with --jobs 2 at most two commands ran at once (and two did)');
is(stop_listener($l), 0, 'stopped');

# --- a failing command is retried; other policies go on ---------------------
my $flog = "$dir/fail.log";
write_script(
	"$dir/flaky.sh", qq{
if [ "\$SCALER_POLICY" = bad ]; then
	n=\$(cat $dir/bad.count 2>/dev/null || echo 0)
	echo \$((n + 1)) > $dir/bad.count
	if [ \$n -lt 2 ]; then echo "fail \$SCALER_DECISION_ID" >> $flog; exit 1; fi
fi
echo "ok \$SCALER_DECISION_ID \$SCALER_POLICY" >> $flog
});
$l = start_listener($node, $dir, 'flaky', '--name', 'flaky', '--jobs', '1',
	'--exec', "$dir/flaky.sh");
my $bad = decide($node, 'bad', 1, 2);
ok(wait_until(sub { (grep { /^fail/ } read_lines($flog)) >= 1 }, 30, 'first failure'),
	'the command for policy "bad" fails');
my $g1 = decide($node, 'good', 1, 2);
ok(wait_until(sub { grep { $_ eq "ok $g1 good" } read_lines($flog) }, 30, 'good 1'),
	'with --jobs 1, another policy runs while the failed one waits to retry');
my $g2 = decide($node, 'good', 2, 3);
ok(wait_until(sub { grep { $_ eq "ok $g2 good" } read_lines($flog) }, 30, 'good 2'),
	'and runs again');
ok(!grep({ $_ eq "ok $bad bad" } read_lines($flog)),
	'before the failing command succeeded');
ok(wait_until(sub { grep { $_ eq "ok $bad bad" } read_lines($flog) }, 30, 'bad retried'),
	'the failing command is retried until it succeeds');
is_deeply([ grep { /$bad/ } read_lines($flog) ],
	[ "fail $bad", "fail $bad", "ok $bad bad" ], 'after two failures');
my $err = slurp_file($l->{err});
like($err,
	qr/command for decision $bad \(policy "bad"\) exited with status 1; retry 1 in 1 s/,
	'the first failure is reported on stderr');
like($err, qr/retry 2 in 2 s/, 'and the retry backs off');
ok(wait_done_count($node, 'flaky', 3), 'acknowledged only once it succeeded');
is(stop_listener($l), 0, 'stopped');

# --- a second SIGTERM passes on to the running command -----------------------
my $slog = "$dir/stop.log";
write_script("$dir/slow.sh", qq{echo "run \$SCALER_DECISION_ID" >> $slog
sleep \$(cat $dir/slow.secs)
});
sub set_secs { open my $f, '>', "$dir/slow.secs" or die; print $f "$_[0]\n"; close $f; }
set_secs(60);
my @slow = ('--name', 'slow', '-v', '--exec', "$dir/slow.sh");
$l = start_listener($node, $dir, 'slow', @slow);
my $s1 = decide($node, 'api', 9, 10);
ok(wait_until(sub { read_lines($slog) == 1 }, 30, 'slow command started'),
	'a long command runs');
$l->{h}->signal('TERM');
ok(wait_until(sub { slurp_file($l->{err}) =~ /waiting for 1 running command/ }, 10,
		'first SIGTERM seen'),
	'first SIGTERM: the listener waits for the command');
ok(kill(0, $l->{h}->{KIDS}[0]{PID}), 'and is still running');
my $t0 = time;
is(stop_listener($l), 0, 'second SIGTERM: exit 0');
cmp_ok(time - $t0, '<', 10, 'promptly: the command got SIGTERM too');
like(slurp_file($l->{err}), qr/was terminated by signal 15/, 'the killed command is reported');
set_secs(0);
$l = start_listener($node, $dir, 'slow2', @slow);
ok(wait_until(sub { read_lines($slog) == 2 }, 30, 'rerun'),
	'the interrupted decision was not acknowledged: it runs after a restart');
is_deeply([ read_lines($slog) ], [ "run $s1", "run $s1" ], 'the same decision');
is(stop_listener($l), 0, 'stopped');

# --- SIGTERM while the server does not answer a statement -------------------
# An admin's lock on scaler.policy blocks the listener's read (the channels
# of the policies) while a command runs: a stop signal cancels the read
# instead of waiting for the lock, the command finishes, and its
# acknowledgement is still recorded (the connection is fine after a cancel).
my $blog = "$dir/blocked.runs";
write_script("$dir/blocked.sh", qq{echo "start \$SCALER_DECISION_ID" >> $blog; sleep 3; echo "end \$SCALER_DECISION_ID" >> $blog\n});
$l = start_listener($node, $dir, 'blocked', '--name', 'blocked', '-p', '0.2', '--exec', "$dir/blocked.sh");
my $bd = decide($node, 'blocked_api', 0, 2);
ok(wait_until(sub { grep { $_ eq "start $bd" } read_lines($blog) }, 30, 'the command starts'),
	'a command runs');
my $locker = IPC::Run::start(
	[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c',
	  'BEGIN; LOCK TABLE scaler.policy IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120); COMMIT;' ],
	'<', \undef, '>', \my $lock_out, '2>', \my $lock_err);
# (a read looks up the channels only when there is a decision to read)
ok(wait_until(sub { sql(q{SELECT count(*) FROM pg_locks WHERE relation = 'scaler.policy'::regclass AND mode = 'AccessExclusiveLock'}) > 0 },
		30, 'the lock is taken'), 'an admin locks scaler.policy');
decide($node, 'blocked_web', 0, 1);
ok( wait_until(
		sub {
			sql(q{SELECT count(*) FROM pg_stat_activity
			       WHERE wait_event_type = 'Lock' AND query LIKE '%listen_decisions%'}) > 0;
		},
		30, 'the listener waits for the lock'),
	'meanwhile a read of the listener waits for a lock');
$t0 = time;
is(stop_listener($l), 0, 'SIGTERM while blocked: exit 0');
cmp_ok(time - $t0, '<', 10, 'once the command is done, not when the lock goes');
like(slurp_file($l->{err}), qr/canceling the statement the server is running/,
	'the blocked statement was canceled');
$locker->kill_kill;
is_deeply([ read_lines($blog) ], [ "start $bd", "end $bd" ], 'the command ran to its end, once');
is(subscription_counts($node, 'blocked'), "$bd 1 0",
	'and its acknowledgement was recorded: it will not run again');

$node->stop;
done_testing();
