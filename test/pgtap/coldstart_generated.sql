-- keep_alive 'auto' against fixed keep-alives on generated serverless
-- traffic (test/gen/serverless_traffic.sql, as in test/bench/coldstart.sh
-- but 60 functions; 3 days, day 1 the warm-up, days 2 and 3 replayed): auto must dominate a fixed
-- 10 minutes, a 75th percentile of cold_start_pct across functions at most
-- half of it, with no more warm-idle instance-time.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SELECT plan(6);

CREATE TABLE public.csg_log (LIKE scaler.request_log INCLUDING ALL);
\set log public.csg_log
\set nfn 60
\ir ../gen/serverless_traffic.sql
ANALYZE public.csg_log;

SELECT count(scaler.create_policy('csg.' || name, 1, function_name => name, source => 'public.csg_log',
                                  scale_in_stabilization => '0'))
  FROM fn;

CREATE TEMP TABLE result AS
SELECT variant, p.name, f.kind, s.*
  FROM unnest(ARRAY['10 minutes', '1 hour', 'auto']) variant,
       scaler.policy p JOIN fn f ON p.name = 'csg.' || f.name,
       scaler.backtest_summary(p.name, '2026-01-02 00:00+00', '2026-01-04 00:00+00',
                               jsonb_build_object('keep_alive', variant)) s;
CREATE TEMP TABLE v AS
SELECT variant, percentile_cont(0.75) WITHIN GROUP (ORDER BY cold_start_pct) AS p75,
       sum(warm_idle_instance_hours) AS idle
  FROM result GROUP BY variant;

SELECT cmp_ok((SELECT p75 FROM v WHERE variant = 'auto'), '<=', (SELECT p75 / 2 FROM v WHERE variant = '10 minutes'),
              'auto: the 75th percentile of cold_start_pct is at most half of a fixed 10 minutes');
SELECT cmp_ok((SELECT idle FROM v WHERE variant = 'auto'), '<=', (SELECT idle FROM v WHERE variant = '10 minutes'),
              'auto: no more warm-idle instance-hours than a fixed 10 minutes');
SELECT cmp_ok((SELECT p75 FROM v WHERE variant = '10 minutes'), '>', 10::float8,
              'the traffic is one where a fixed 10 minutes leaves many cold starts (so the comparison says something)');
SELECT cmp_ok((SELECT idle FROM v WHERE variant = '1 hour'), '>', (SELECT idle FROM v WHERE variant = 'auto'),
              'a fixed hour buys its cold starts with more idle time than auto');
-- timers of 15 minutes or more: every call cold with 10 minutes, warm with auto
SELECT is((SELECT count(*) FILTER (WHERE a.cold_starts <= 1) || '/' || count(*)
             FROM result a JOIN result f USING (name)
            WHERE a.variant = 'auto' AND f.variant = '10 minutes' AND a.kind = 'timer' AND f.cold_start_pct = 100),
          (SELECT count(*) || '/' || count(*) FROM result WHERE variant = '10 minutes' AND kind = 'timer' AND cold_start_pct = 100),
          'every timer that always starts cold under 10 minutes is pre-warmed by auto');
SELECT is((SELECT string_agg(DISTINCT b.reason, ',' ORDER BY b.reason)
             FROM fn, scaler.backtest('csg.' || fn.name, '2026-01-02 00:00+00', '2026-01-04 00:00+00',
                                      '{"keep_alive": "auto"}') b
            WHERE fn.kind = 'timer' AND b.reason IN ('prewarm', 'keep_alive')),
          'keep_alive,prewarm', 'auto decides with the reasons prewarm and keep_alive');

SELECT * FROM finish();
ROLLBACK;
