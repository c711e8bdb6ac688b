# Makefile for scaler: PGXS build plus the project's test, demo and bench targets.
#
#   make / make install      build and install the extension and scaler-listen
#   make test                install missing Debian packages, build, install and run
#                            every suite (pg_regress, pgTAP, the docs' examples,
#                            isolation, Perl TAP, the demo), from any checkout
#   make demo                the end-to-end demo on a throwaway cluster
#   make demo-browser        the demo, then its picture checked in headless Chromium
#   make bench               benchmarks (prints medians and ratios)
#
# The individual suites (installcheck, prove, isolation) expect a running server
# reachable through PGHOST/PGPORT; test/with-cluster.sh provides a throwaway one.
# Perl TAP tests live in test/t and run as postgres through test/tap.sh (PGXS's
# TAP_TESTS would run prove as the caller, in the checkout, where initdb
# refuses root and postgres may not read).

EXTENSION = scaler
MODULE_big = scaler
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
# The version whose SQL objects this library expects: the worker waits while
# its database has another (src/worker.c).
SCALER_VERSION := $(shell sed -n "s/^default_version = '\(.*\)'$$/\1/p" scaler.control)
PG_CPPFLAGS = -DSCALER_VERSION='"$(SCALER_VERSION)"'
PGFILEDESC = "scaler - traffic analytics and autoscaling decisions"

# The SQL scripts are assembled from parts, one file per kind of object
# (see docs/design.md, "The SQL scripts"):
#   src/sql/*.sql           functions, aggregates, views, test hooks and
#                           privileges, written with CREATE OR REPLACE: shared
#                           by the install script and the update script;
#   src/sql/install/*.sql   what only a fresh install runs: the schema check,
#                           the types, the tables and their indexes;
#   src/update/0.1--0.2/*.sql  what only the update from 0.1 runs: its schema
#                           check and the migration of the 0.1 tables.
# Each script is its parts concatenated in the order of their file names
# (not of their directories), so a part's number says where it runs in both.
# src/scaler--0.1.sql is the 0.1 script as released: kept to install 0.1 and
# test the update path.
SQL_SHARED = $(wildcard src/sql/*.sql)
SQL_PARTS = $(SQL_SHARED) $(wildcard src/sql/install/*.sql)
UPDATE_0_1_PARTS = $(SQL_SHARED) $(wildcard src/update/0.1--0.2/*.sql)
# the parts in the order of their file names; two parts of one script must
# not share a name
by_name = $(shell printf '%s\n' $(1) | awk -F/ '{ print $$NF "\t" $$0 }' | LC_ALL=C sort | cut -f2)
DATA_built = src/scaler--0.2.sql src/scaler--0.1--0.2.sql
DATA = src/scaler--0.1.sql
EXTRA_CLEAN = src/listen/scaler-listen src/listen/*.o results regression.diffs \
	regression.out output_iso test/tmp_check

REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --load-extension=scaler

# Isolation specs: test/isolation/specs/NAME.spec, expected output in
# test/isolation/expected/, results in output_iso/.  `make installcheck` runs
# them after the pg_regress tests (REGRESS= or ISOLATION= skips either).
ISOLATION = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=scaler

# scaler-listen, the libpq client (PGXS allows one product per Makefile, so it
# gets its own rule and is installed as a script into the server's bindir).
LISTEN_SRCS = $(sort $(wildcard src/listen/*.c))
ifneq ($(LISTEN_SRCS),)
SCRIPTS_built = src/listen/scaler-listen
endif

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: rebuild every object when a header
# changes (struct layouts are shared between files).
$(OBJS): $(wildcard src/*.h)

# (The directories are prerequisites too, so that a part removed rebuilds.)
src/scaler--0.2.sql src/scaler--0.1--0.2.sql:
	@dups=$$(printf '%s\n' $(notdir $(filter %.sql,$^)) | sort | uniq -d); \
	if [ -n "$$dups" ]; then echo "$@: two parts named $$dups" >&2; exit 1; fi
	cat $(call by_name,$(filter %.sql,$^)) > $@

src/scaler--0.2.sql: $(SQL_PARTS) src/sql src/sql/install
src/scaler--0.1--0.2.sql: $(UPDATE_0_1_PARTS) src/sql src/update/0.1--0.2

src/listen/scaler-listen: $(LISTEN_SRCS) $(wildcard src/listen/*.h)
	$(CC) $(CFLAGS) $(CPPFLAGS) -I$(shell $(PG_CONFIG) --includedir) \
		-o $@ $(LISTEN_SRCS) -L$(shell $(PG_CONFIG) --libdir) -lpq

all: $(SCRIPTS_built)

.PHONY: test demo demo-browser bench prove tap isolation deps

# SCALER_PGTREE=DIR (a private PostgreSQL copy, see test/pgtree.sh): test, demo
# and bench install into it instead of the shared system directories.
SCALER_INSTALL = $(if $(SCALER_PGTREE),test/pgtree.sh $(SCALER_PGTREE) && $(MAKE) install DESTDIR=$(SCALER_PGTREE),$(MAKE) install)

deps:
	test/deps.sh

# pgTAP suites, against the running server.
prove:
	pg_prove --ext .sql --recurse test/pgtap

# Isolation specs alone, against the running server.
isolation:
	$(MAKE) installcheck REGRESS=

# Perl TAP suites: they start their own clusters (as the postgres user).
tap:
	test/tap.sh

# Every suite runs even when one fails; the last line is "N passed, N failed".
test:
	test/deps.sh
	$(MAKE) all
	$(SCALER_INSTALL)
	MAKE='$(MAKE)' test/run-tests.sh

demo:
	test/deps.sh
	$(MAKE) all
	$(SCALER_INSTALL)
	test/with-cluster.sh test/demo.sh

# Not part of make test: needs Chromium (Debian package chromium).
demo-browser: demo
	test/demo-browser.sh

bench:
	test/deps.sh
	$(MAKE) all
	$(SCALER_INSTALL)
	test/with-cluster.sh test/bench/run.sh
