# Helpers shared by the TAP tests: the scaler-listen tests
# (test/t/05*_listen_*.pl) use most of them, the worker tests
# new_worker_node.
#
# Decisions are made by inserting into scaler.decision directly and sending
# the NOTIFY in the same transaction, as scaler.evaluate() does, so these
# tests exercise the listener alone.
package ListenUtil;

use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use IPC::Run;
use Time::HiRes qw(usleep time);
use Test::More;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;

use Exporter 'import';
our @EXPORT = qw(listen_bin new_scaler_node decide start_listener
  stop_listener wait_until wait_done_count subscription_counts read_lines
  write_script new_worker_node);

# The binary under test: $SCALER_LISTEN, else the one built in the source
# tree ($SCALER_SRCDIR, or the tree this module is in), else the one on PATH
# (test/tap.sh puts the bin dir scaler-listen is installed into first).
sub listen_bin
{
	return $ENV{SCALER_LISTEN} if $ENV{SCALER_LISTEN};
	my $src = $ENV{SCALER_SRCDIR} // dirname(abs_path(__FILE__)) . '/../..';
	my $built = "$src/src/listen/scaler-listen";
	return abs_path($built) if -x $built;
	return 'scaler-listen';
}

sub new_scaler_node
{
	my ($name) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION scaler');
	return $node;
}

# A started node for the worker tests: scaler preloaded (with cron => 1 also
# pg_cron, its jobs in database postgres as background workers), plus the
# postgresql.conf lines in $conf.
sub new_worker_node
{
	my ($name, $conf, %opt) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	my $preload =
	  $opt{cron}
	  ? qq(shared_preload_libraries = 'scaler,pg_cron'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 32
)
	  : qq(shared_preload_libraries = 'scaler'
);
	$node->init;
	$node->append_conf('postgresql.conf', $preload . $conf);
	$node->start;
	return $node;
}

# One decision plus its wake-up, committed together; returns its id.
sub decide
{
	my ($node, $policy, $from, $to, %opt) = @_;
	my $channel = $opt{channel} // 'scaler';
	return $node->safe_psql(
		'postgres', qq{
		WITH d AS (
			INSERT INTO scaler.decision
				(policy, metric, value, target, from_capacity, to_capacity, reason)
			VALUES ('$policy', 'concurrency', $to, 1, $from, $to, 'test')
			RETURNING *)
		SELECT id FROM (
			SELECT d.id, pg_notify('$channel',
				json_build_object('id', d.id, 'policy', d.policy,
					'from', d.from_capacity, 'to', d.to_capacity)::text)
			FROM d) n});
}

# A command to run scaler-listen under (valgrind), set by a test.
our @wrapper = ();

# Start scaler-listen in the background; wait until it is subscribed.
sub start_listener
{
	my ($node, $dir, $tag, @args) = @_;
	my %l = (
		out => "$dir/$tag.out",
		err => "$dir/$tag.err");
	unlink $l{out}, $l{err};
	my @cmd = (@wrapper, listen_bin(), '-d', $node->connstr('postgres'), @args);
	$l{h} = IPC::Run::start(\@cmd, '<', \undef, '>>', $l{out}, '2>>', $l{err});
	$l{ready} = wait_until(
		sub { -f $l{err} && slurp_file($l{err}) =~ /listening on channel/ },
		60, "listener $tag subscribed");
	return \%l;
}

# Signal the listener and return its exit status.
sub stop_listener
{
	my ($l, $sig) = @_;
	$l->{h}->signal($sig // 'TERM');
	$l->{h}->finish;
	return $l->{h}->full_result(0) >> 8;
}

# Poll a condition for up to $timeout seconds; true when it held.
sub wait_until
{
	my ($cond, $timeout, $what) = @_;
	my $deadline = time() + $timeout;
	while (time() < $deadline)
	{
		return 1 if $cond->();
		usleep(50_000);
	}
	diag("timed out after $timeout s waiting for: $what");
	return 0;
}

# Wait until subscription $name has acknowledged $n decisions as done.
sub wait_done_count
{
	my ($node, $name, $n, $timeout) = @_;
	return wait_until(
		sub {
			$node->safe_psql('postgres',
				qq{SELECT done FROM scaler.subscriptions WHERE name = '$name'})
			  == $n;
		},
		$timeout // 30,
		"$n decisions of subscription $name acknowledged as done");
}

# Subscription $name's "acked_through done superseded".
sub subscription_counts
{
	my ($node, $name) = @_;
	return $node->safe_psql(
		'postgres',
		qq{SELECT acked_through || ' ' || done || ' ' || superseded
		  FROM scaler.subscriptions WHERE name = '$name'});
}

sub read_lines
{
	my ($file) = @_;
	return () unless -f $file;
	return grep { $_ ne '' } split /\n/, slurp_file($file);
}

# Write an executable /bin/sh script.
sub write_script
{
	my ($path, $body) = @_;
	open my $fh, '>', $path or die "could not write $path: $!";
	print $fh "#!/bin/sh\n$body";
	close $fh;
	chmod 0755, $path;
	return $path;
}

1;
