# scaler-listen under valgrind memcheck: a catch-up (with coalescing and a
# failing command), live decisions, a forged NOTIFY, a server restart, and
# SIGTERM; then the print mode and an error exit.  Any invalid access or
# leaked block fails the test.  Skipped when valgrind is not installed.
use strict;
use warnings;
# ListenUtil.pm sits beside this file (test/tap.sh copies both), or in
# $SCALER_SRCDIR/test/t when that names a checkout
use FindBin;
use lib($ENV{SCALER_SRCDIR} ? "$ENV{SCALER_SRCDIR}/test/t" : $FindBin::RealBin);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use ListenUtil;

my $valgrind;
for my $d (split /:/, $ENV{PATH})
{
	$valgrind = "$d/valgrind" if !$valgrind && -x "$d/valgrind";
}
plan skip_all => 'valgrind is not installed (apt-get install valgrind); memory checks skipped'
  unless $valgrind;

my $dir = PostgreSQL::Test::Utils::tempdir;
my $vgerror = 42;

sub memcheck
{
	my ($tag) = @_;
	return (
		$valgrind, '--quiet', '--leak-check=full',
		'--show-leak-kinds=definite,indirect,possible',
		'--errors-for-leak-kinds=definite,indirect,possible',
		"--error-exitcode=$vgerror", "--log-file=$dir/$tag.vg");
}

sub clean_report
{
	my ($tag, $status) = @_;
	my $report = slurp_file("$dir/$tag.vg");
	isnt($status, $vgerror, "$tag: valgrind found no errors");
	unlike($report, qr/Invalid (read|write|free)|uninitialised|Mismatched/,
		"$tag: no invalid accesses");
	unlike($report, qr/(definitely|indirectly|possibly) lost/, "$tag: no leaks");
	note("valgrind report of $tag:\n$report") if $report ne '';
}

my $node = new_scaler_node('listen_valgrind');
my $log = "$dir/runs";
write_script(
	"$dir/cmd.sh", qq{
cat > /dev/null
if [ "\$SCALER_POLICY" = flaky ] && [ ! -f $dir/flaky.once ]; then
	touch $dir/flaky.once; exit 3
fi
echo "\$SCALER_DECISION_ID" >> $log
});
my @args = ('--name', 'vg', '--jobs', '2', '-v', '--exec', "$dir/cmd.sh");

my $l = start_listener($node, $dir, 'create', @args);
is(stop_listener($l), 0, 'subscription created');

# decided while the listener is down: caught up, three coalesced into one
decide($node, 'api', $_, $_ + 1) for 0 .. 2;
decide($node, 'web', 0, 1);
decide($node, 'flaky', 0, 1);

@ListenUtil::wrapper = memcheck('live');
$l = start_listener($node, $dir, 'live', @args);
ok($l->{ready}, 'listener under valgrind subscribed');
ok(wait_until(sub { read_lines($log) == 3 }, 60, 'catch-up under valgrind'),
	'catch-up done (api coalesced, web, flaky after a retry)');

decide($node, 'api', 3, 4);
$node->safe_psql('postgres', q{SELECT pg_notify('scaler', '{"id": 424242}')});
ok(wait_until(sub { read_lines($log) == 4 }, 60, 'live decision under valgrind'),
	'live decision done');
$node->restart;
decide($node, 'web', 1, 2);
ok(wait_until(sub { read_lines($log) == 5 }, 60, 'decision after the restart'),
	'reconnected after a server restart and caught up');
ok(wait_done_count($node, 'vg', 5), 'all acknowledged');
clean_report('live', stop_listener($l));

# print mode over a catch-up, then SIGINT
@ListenUtil::wrapper = ();
$l = start_listener($node, $dir, 'pcreate', '--name', 'vgprint');
is(stop_listener($l), 0, 'print subscription created');
decide($node, 'api', 4, 5);
decide($node, 'web', 2, 3);
@ListenUtil::wrapper = memcheck('print');
$l = start_listener($node, $dir, 'print', '--name', 'vgprint');
ok(wait_until(sub { read_lines($l->{out}) == 2 }, 60, 'printed'), 'print mode caught up');
clean_report('print', stop_listener($l, 'INT'));

# an error exit frees what it allocated too
$node->safe_psql('postgres', 'CREATE DATABASE noext');
my ($stdout, $stderr);
IPC::Run::run([ memcheck('error'), listen_bin(), '-d', $node->connstr('noext') ],
	'<', \undef, '>', \$stdout, '2>', \$stderr);
my $status = $? >> 8;
is($status, 1, 'missing extension: exit 1');
clean_report('error', $status);

$node->stop;
done_testing();
