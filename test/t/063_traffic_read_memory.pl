# Reading a stored traffic value costs memory in proportion to its bytes,
# not to what its sketches would take built: a summary of two durations
# far apart is 33 bytes stored and 4 kB of bins built, so a value of
# 100,000 of them (about 0.4 MB stored) took 450 MB to print, send, dump
# or report.  Each reader runs in a backend of its own, whose peak memory
# (VmHWM, which also counts the shared buffers it touched) must stay far
# below what building the value takes.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('traffic_read_memory');
$node->init;
$node->start;
# 100,000 quarters from 2024-01-01, each a summary of 2 requests with 2
# durations whose sketch keys are 0 and 1023 (2 bins in use, 1,024 spanned)
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION scaler;
CREATE TABLE sparse (t scaler.traffic);
INSERT INTO sparse
SELECT ('traffic:' || replace(encode(
         int4send(2) || int4send(100000) ||
         string_agg(int8send(841536 + i) ||
                    '\x01'::bytea || '\x0001'::bytea || '\x0200'::bytea ||
                    '\x0002'::bytea || float8send(5.0) ||
                    '\x0002'::bytea || int4send(0) || '\x01'::bytea || '\xfe0701'::bytea,
                    ''::bytea ORDER BY i),
         'base64'), E'\n', ''))::scaler.traffic
FROM generate_series(0, 99999) i;
});

my $peak_mb = q{SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s*(\d+)'))[1]::int / 1024};
my %readers = (
	'text output' => 'SELECT length(t::text) FROM sparse',
	'binary output' => 'SELECT length(scaler.traffic_send(t)) FROM sparse',
	'COPY TO (as pg_dump)' => q{COPY sparse TO '/dev/null'},
	'hourly_requests(t)' => 'SELECT count(*) FROM scaler.hourly_requests((SELECT t FROM sparse))',
	'hour_of_week(t)' => 'SELECT count(*) FROM scaler.hour_of_week((SELECT t FROM sparse))');
my $baseline = $node->safe_psql('postgres', $peak_mb);
for my $what (sort keys %readers)
{
	my $peak = $node->safe_psql('postgres', "$readers{$what}; $peak_mb");
	$peak = (split /\n/, $peak)[-1];
	cmp_ok($peak - $baseline, '<', 100,
		"$what of a value of 100,000 sparse sketches: peak memory under 100 MB more than an idle backend's");
}

# and what they read is the value: 2 requests a quarter, printed back as given
is( $node->safe_psql(
		'postgres', q{
SELECT sum(requests) || ' ' || count(*) FROM scaler.hourly_requests((SELECT t FROM sparse))}),
	'200000 25000', 'hourly_requests counts every request, in 25,000 hours');
is( $node->safe_psql(
		'postgres', q{SELECT t::text::scaler.traffic::text = t::text FROM sparse}),
	't', 'the text form reads back as itself');

$node->stop;
done_testing();
