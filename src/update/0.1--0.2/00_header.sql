-- scaler update script from 0.1 to 0.2, assembled from src/update/0.1--0.2/*.sql
-- in file-name order: one fragment per change.  Whatever a change does to
-- src/sql/*.sql, its fragment does to an installed 0.1, so that an updated
-- database ends up with exactly the objects of a fresh 0.2 install (the
-- update test compares the two catalogs).
\echo Use "ALTER EXTENSION scaler UPDATE TO '0.2'" to load this file. \quit
