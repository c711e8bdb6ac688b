-- Scheduled capacity and forecast refresh through pg_cron: the jobs exist in
-- cron.job with the right schedule and command, running a job's command
-- opens the floor (or refreshes the forecast floors), unscheduling and
-- dropping the policy remove the jobs, and without pg_cron the functions
-- fail with a clear error while the rest of scaler works.
--
-- pg_cron 1.4.2 fires at minute granularity, so instead of waiting for the
-- clock the test runs each job's stored command itself, as pg_cron would.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_cron;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SELECT plan(25);

CREATE TABLE public.cron_log (LIKE scaler.request_log INCLUDING ALL);
SELECT scaler.create_policy('cp', 0.01, metric => 'rps', function_name => 'cp', source => 'public.cron_log',
                            max_capacity => 10);

-- scheduled capacity
CREATE TEMP TABLE job AS SELECT scaler.schedule_capacity('cp', '55 8 * * 1-5', 5, '1 hour') AS jobid;
SELECT is((SELECT row(schedule, command, username, active)::text FROM cron.job j JOIN job USING (jobid)),
          row('55 8 * * 1-5', $$SELECT scaler.open_floor('cp', 5, '01:00:00', 'schedule')$$, current_user, true)::text,
          'schedule_capacity makes a pg_cron job with the schedule and the command that opens the floor');
SELECT is((SELECT jobname::text FROM cron.job j JOIN job USING (jobid)),
          (SELECT 'scaler_capacity_' || id FROM scaler.capacity_schedule WHERE policy = 'cp' AND kind = 'capacity'),
          'named after its scaler.capacity_schedule row');

SELECT lives_ok((SELECT command FROM cron.job j JOIN job USING (jobid)), 'running the job''s command works');
SELECT is((SELECT row(min_capacity, ends - starts, origin, starts = now())::text FROM scaler.capacity_floor WHERE policy = 'cp'),
          row(5, interval '1 hour', 'schedule', true)::text, 'and opens a floor of 5 for an hour from now');
SELECT is((SELECT to_capacity || ' ' || reason FROM scaler.evaluate('cp')), '5 floor',
          'live evaluation holds the floor (no traffic would mean 0)');

SELECT isnt(scaler.schedule_capacity('cp', '55 8 * * 1-5', 7, '30 minutes'), NULL::bigint, 'schedule the same again');
SELECT is((SELECT string_agg(command, ' ') FROM cron.job WHERE command LIKE '%open_floor(''cp''%'),
          $$SELECT scaler.open_floor('cp', 7, '00:30:00', 'schedule')$$,
          'scheduling the same policy and cron schedule again updates the one job');
SELECT isnt(scaler.schedule_capacity('cp', '0 12 * * *', 3, '2 hours'), NULL::bigint, 'a second schedule');
SELECT is((SELECT count(*)::int FROM cron.job WHERE command LIKE '%open_floor(''cp''%'), 2, 'makes a second job');

SELECT throws_ok($$SELECT scaler.schedule_capacity('cp', '0 9 * * *', 11, '1 hour')$$, '22023',
                 'min_capacity must not exceed max_capacity of policy "cp"', 'floors never exceed max_capacity');
SELECT throws_ok($$SELECT scaler.schedule_capacity('cp', '0 9 * * *', 1, '0')$$, '22023',
                 'duration must be greater than zero', 'zero duration');
SELECT throws_ok($$SELECT scaler.schedule_capacity('nope', '0 9 * * *', 1, '1 hour')$$, '42704',
                 'policy "nope" does not exist', 'unknown policy');

SELECT is(scaler.unschedule_capacity('cp', '0 12 * * *'), 1, 'unschedule one schedule');
SELECT is((SELECT count(*)::int FROM cron.job WHERE command LIKE '%open_floor(''cp''%'), 1, 'its job is gone, the other stays');

-- forecast refresh: two days of 2 requests a minute = 0.033 rps -> 4 instances at 0.01
INSERT INTO public.cron_log (ts, function_name, duration_ms, status)
SELECT m + i * interval '20 seconds', 'cp', 100, 200
  FROM generate_series(date_trunc('minute', now()) - interval '2 days', now() - interval '1 minute', interval '1 minute') m,
       generate_series(0, 1) i;
CREATE TEMP TABLE fjob AS SELECT scaler.schedule_forecast('cp') AS jobid;
SELECT is((SELECT row(schedule, command)::text FROM cron.job j JOIN fjob USING (jobid)),
          row('0 */6 * * *', $$SELECT scaler.apply_forecast('cp', '00:05:00')$$)::text,
          'schedule_forecast: every 6 hours by default, refreshing the forecast floors');
SELECT lives_ok((SELECT command FROM cron.job j JOIN fjob USING (jobid)), 'running the forecast job''s command works');
SELECT is((SELECT count(*)::int || ' x ' || max(min_capacity) FROM scaler.capacity_floor WHERE policy = 'cp' AND origin = 'forecast'),
          (SELECT count(*)::int || ' x 4' FROM scaler.forecast('cp')),
          'and writes a floor of 4 for every forecast hour');

-- dropping the policy removes its jobs
SELECT scaler.drop_policy('cp');
SELECT is((SELECT count(*)::int FROM cron.job WHERE command LIKE '%(''cp''%'), 0, 'drop_policy removes the policy''s pg_cron jobs');
SELECT is((SELECT count(*)::int FROM scaler.capacity_schedule WHERE policy = 'cp')
          + (SELECT count(*)::int FROM scaler.capacity_floor WHERE policy = 'cp'), 0, 'and its schedules and floors');

-- DROP EXTENSION scaler cannot remove its jobs (nothing of scaler's runs
-- at its own drop); CREATE EXTENSION scaler unschedules those a dropped
-- install left, which would otherwise act on a new policy of the old name
SELECT scaler.create_policy('dx', 1, function_name => 'dx', source => 'public.cron_log', max_capacity => 10);
SELECT scaler.schedule_capacity('dx', '0 9 * * *', 3, '1 hour');
SELECT scaler.schedule_forecast('dx');
CREATE TEMP TABLE user_job AS SELECT cron.schedule('scaler_capacity_mine', '0 3 * * *', 'SELECT 1') AS jobid;
DROP EXTENSION scaler;
SELECT is((SELECT count(*)::int FROM cron.job WHERE jobname ~ '^scaler_(capacity|forecast)_[0-9]+$'), 2,
          'DROP EXTENSION scaler leaves its two jobs');
CREATE EXTENSION scaler;
SELECT is((SELECT count(*)::int FROM cron.job WHERE jobname ~ '^scaler_(capacity|forecast)_[0-9]+$'), 0,
          'CREATE EXTENSION scaler unschedules them');
SELECT is((SELECT count(*)::int FROM cron.job j JOIN user_job USING (jobid)), 1,
          'and leaves jobs of other names alone');

-- without pg_cron: a clear error, and the rest still works
SELECT scaler.create_policy('nc', 1, function_name => 'nc', source => 'public.cron_log');
SELECT scaler.schedule_capacity('nc', '0 9 * * *', 1, '1 hour');
DROP EXTENSION pg_cron;
SELECT throws_ok($$SELECT scaler.schedule_capacity('nc', '0 9 * * *', 1, '1 hour')$$, '55000',
                 'pg_cron is not installed in this database', 'schedule_capacity without pg_cron');
SELECT throws_ok($$SELECT scaler.schedule_forecast('nc')$$, '55000',
                 'pg_cron is not installed in this database', 'schedule_forecast without pg_cron');
SELECT lives_ok($$SELECT scaler.drop_policy('nc')$$, 'dropping a policy with a schedule works without pg_cron');

SELECT * FROM finish();
ROLLBACK;
