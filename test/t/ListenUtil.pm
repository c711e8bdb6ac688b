# Helpers shared by the scaler-listen TAP tests (test/t/05*_listen_*.pl).
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
  stop_listener wait_until read_lines write_script);

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
