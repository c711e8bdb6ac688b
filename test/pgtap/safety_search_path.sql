-- The functions written in C that run queries of their own (the source
-- form of hourly_requests, traffic_svg, backtest, backtest_summary,
-- forecast) must not call operators of a schema on the caller's
-- search_path: a role with CREATE on a schema that a superuser puts before
-- pg_catalog could otherwise run its code as the superuser.  traffic_svg's
-- replay compared steps with an unqualified IS DISTINCT FROM (the int4 =
-- of the path); these functions now also run with search_path =
-- pg_catalog, pg_temp.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS scaler;
SET search_path = scaler, public;
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SELECT plan(7);

CREATE TABLE public.sp_src (LIKE scaler.request_log);
INSERT INTO public.sp_src (ts, function_name, duration_ms, status)
SELECT timestamptz '2026-01-05 00:00+00' + i * interval '1 minute' + interval '30 seconds', 'f', 60000, 200
FROM generate_series(0, 119) i, generate_series(1, (1 + i % 3));
-- and two days up to now, for forecast
INSERT INTO public.sp_src (ts, function_name, duration_ms, status)
SELECT now() - i * interval '30 minutes', 'f', 100, 200 FROM generate_series(1, 96) i;
SELECT scaler.create_policy('sp', 1, function_name => 'f', source => 'public.sp_src',
                            scale_in_stabilization => '0');

-- Operators that an exact match of argument types would pick over
-- pg_catalog's, wherever pg_catalog stands in the path.
CREATE ROLE sp_squatter;
CREATE SCHEMA sp_evil AUTHORIZATION sp_squatter;
SET ROLE sp_squatter;
CREATE FUNCTION sp_evil.trap(integer, integer) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'sp_evil called as %', current_user; END $$;
CREATE FUNCTION sp_evil.trap(timestamptz, timestamptz) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'sp_evil called as %', current_user; END $$;
CREATE FUNCTION sp_evil.trap(text, text) RETURNS boolean LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'sp_evil called as %', current_user; END $$;
CREATE OPERATOR sp_evil.= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = sp_evil.trap);
CREATE OPERATOR sp_evil.<> (LEFTARG = integer, RIGHTARG = integer, FUNCTION = sp_evil.trap);
CREATE OPERATOR sp_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = sp_evil.trap);
CREATE OPERATOR sp_evil.= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = sp_evil.trap);
CREATE OPERATOR sp_evil.< (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = sp_evil.trap);
CREATE OPERATOR sp_evil.<= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = sp_evil.trap);
CREATE OPERATOR sp_evil.> (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = sp_evil.trap);
CREATE OPERATOR sp_evil.>= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = sp_evil.trap);
RESET ROLE;

-- q as a superuser whose search_path has the squatter's schema first: 'ok',
-- or the error it raised
CREATE FUNCTION pg_temp.as_victim(q text) RETURNS text LANGUAGE plpgsql
SET search_path = sp_evil, pg_catalog AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLERRM;
END $$;

-- the trap works: a query of the caller's own that uses = is caught
SELECT is(pg_temp.as_victim($$SELECT 1 = 1$$), 'sp_evil called as postgres',
          'a superuser''s own query under that path calls the squatter''s =');
SELECT is(pg_temp.as_victim($$SELECT length(scaler.traffic_svg(timestamptz '2026-01-05 00:00+00', timestamptz '2026-01-05 02:00+00',
                                                         'f', 'public.sp_src', 'sp', replay => true))$$),
          'ok', 'traffic_svg with a replay calls none of them');
SELECT is(pg_temp.as_victim($$SELECT length(scaler.traffic_svg(t, 'sp', replay => true))
                                FROM (SELECT scaler.traffic_agg(ts, duration_ms, status) t FROM public.sp_src
                                      WHERE ts OPERATOR(pg_catalog.<) '2026-01-06') a$$),
          'ok', 'nor does traffic_svg of a value');
SELECT is(pg_temp.as_victim($$SELECT count(*) FROM scaler.hourly_requests(timestamptz '2026-01-05 00:00+00',
                                                                           timestamptz '2026-01-05 02:00+00', 'f', 'public.sp_src')$$),
          'ok', 'nor hourly_requests of a source');
SELECT is(pg_temp.as_victim($$SELECT count(*) FROM scaler.backtest('sp', timestamptz '2026-01-05 00:00+00', timestamptz '2026-01-05 02:00+00')$$),
          'ok', 'nor backtest');
SELECT is(pg_temp.as_victim($$SELECT steps FROM scaler.backtest_summary('sp', timestamptz '2026-01-05 00:00+00', timestamptz '2026-01-05 02:00+00')$$),
          'ok', 'nor backtest_summary');
SELECT is(pg_temp.as_victim($$SELECT count(*) FROM scaler.forecast('sp')$$),
          'ok', 'nor forecast');

SELECT * FROM finish();
ROLLBACK;
