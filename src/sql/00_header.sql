-- scaler extension script, assembled from src/sql/*.sql in file-name order.
\echo Use "CREATE EXTENSION scaler" to load this file. \quit
