# csv-dmap - the two commands of the README are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The Lambda runtime is python3.13: use it locally too. Under pyenv the
# python3.13 shim answers only when 3.13 is among the selected versions.
export PYENV_VERSION ?= 3.13.0:3.11.7
PYTHON313 ?= $(shell PYENV_VERSION=$(PYENV_VERSION) python3.13 -c 'import sys; print(sys.executable)' 2>/dev/null || echo python3.13)
export PATH := $(dir $(PYTHON313)):$(PATH)
export AWS_DEFAULT_REGION ?= ap-northeast-1
export SAM_CLI_TELEMETRY := 0

VENV := .venv
PY := $(VENV)/bin/python
SAMVENV := .venv-sam
SAM := $(SAMVENV)/bin/sam
# checkov in a virtualenv of its own: its dependencies clash with the app's and the SAM CLI's pins.
CHECKOVVENV := .venv-checkov
STACK ?= csv-dmap-dev
FN ?= worker
EVENT ?= events/$(FN).json

# Values a user gives (make run CSV="my users (1).csv", make query PARAMS=...) reach the programs
# through the environment as typed: make does not expand them ($ stays $, $(...) is not make's) and
# recipes read them as "$$NAME", never spliced into the shell text. (*_ARGS, ARGS and CONFIG are
# extra command-line arguments: the shell splits those, as it would on a command line.)
AS_TYPED := CSV ROWS SQL FILE NAMED PARAMS FN EVENT EXECUTION STACK BENCH_ROWS BENCH_SIZES LOAD_ROWS LOAD_RUNS
$(foreach v,$(AS_TYPED),$(if $(filter command line environment,$(origin $(v))),$(eval override $(v) := $$(value $(v)))))
# (exported at the end of this file: `export X` before `X ?= default` would define X empty first)

.PHONY: help install test lint unit validate lint-asl build deploy sync invoke run redrive exec bench bench-10m cost clean clean-local db-schema

##@ housekeeping
help: ## list the targets by group (a `##@ group` line sets the group of the targets below it)
	@awk 'BEGIN { n = split("run operate test deploy bench housekeeping", order, " ") } \
		/^##@ / { group = $$2; next } \
		/^[a-z0-9-]+:.*## / { name = $$0; sub(/:.*/, "", name); text = $$0; sub(/^[^#]*## /, "", text); \
			listed[group] = listed[group] sprintf("  make %-12s %s\n", name, text) } \
		END { for (i = 1; i <= n; i++) if (order[i] in listed) printf "%s%s:\n%s", (i > 1 ? "\n" : ""), order[i], listed[order[i]] }' \
		$(MAKEFILE_LIST)

$(VENV)/.installed: requirements-dev.txt layers/shared/requirements.txt pyproject.toml
	@test -x "$(PYTHON313)" || { echo "python3.13 not found: install CPython 3.13 or set PYTHON313=/path/to/python3.13"; exit 1; }
	$(PYTHON313) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(SAMVENV)/.installed: requirements-sam.txt
	$(PYTHON313) -m venv $(SAMVENV)
	$(SAMVENV)/bin/pip install --quiet -r requirements-sam.txt
	touch $@

$(CHECKOVVENV)/.installed: requirements-checkov.txt
	$(PYTHON313) -m venv $(CHECKOVVENV)
	$(CHECKOVVENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

install: $(VENV)/.installed node_modules/.installed ## create .venv with the pinned dev requirements, node_modules with npm ci

##@ test
test: lint validate unit ## the gates, the template and ASL checks, then every test

# $(call step,NAME,COMMANDS): run COMMANDS with their output in .local/logs/NAME.log and print one
# line; when they fail, print the log, then the line, and stop.
LOGS := .local/logs
step = mkdir -p $(LOGS); if ( $(2) ) > $(LOGS)/$(1).log 2>&1; then echo "$(1): ok (log: $(LOGS)/$(1).log)"; \
	else cat $(LOGS)/$(1).log; echo "$(1): FAILED (log: $(LOGS)/$(1).log)"; exit 1; fi

# Complexity ceiling: no function or module above radon grade C (cyclomatic complexity <= 20), average A.
CODE := layers/shared/csv_dmap asl_runner local_runner functions csv_dmap_cli bench
lint: $(VENV)/.installed ## ruff check + format check, mypy --strict, xenon (no block above grade C)
	@$(call step,lint,$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy \
	  && $(VENV)/bin/xenon --max-absolute C --max-modules C --max-average A $(CODE))

# tests/deploy translates the template with .venv-sam's aws-sam-translator and runs cfn-lint and
# checkov on every translation: both virtualenvs come before the tests.
unit: $(VENV)/.installed $(SAMVENV)/.installed $(CHECKOVVENV)/.installed node_modules/.installed ## run the test suite only (pytest)
	$(PY) -m pytest -q $(PYTEST_ARGS)

ASL := statemachine/definition.asl.json
lint-asl: $(VENV)/.installed node_modules/.installed ## strict ASL check + asl-validator
	@$(call step,lint-asl,$(PY) -m asl_runner lint "$(ASL)" && node_modules/.bin/asl-validator --json-path "$(ASL)")

validate: lint-asl $(SAMVENV)/.installed ## sam validate --lint, sam build (offline), ASL checks
	@$(call step,validate,$(SAM) validate --lint)
	@$(call step,build,$(SAM) build --cached --parallel)

##@ deploy
build: $(SAMVENV)/.installed ## sam build (arm64, python3.13)
	$(SAM) build --cached --parallel

deploy: build ## sam deploy (settings in samconfig.toml; GUIDED=1 for the first time)
	$(SAM) deploy $(if $(GUIDED),--guided,) --stack-name "$$STACK"

sync: $(SAMVENV)/.installed ## sam sync --watch against a dev stack
	$(SAM) sync --stack-name "$$STACK" --watch

##@ run
invoke: $(VENV)/.installed ## run a function Docker-free: make invoke FN=worker EVENT=events/worker.json
	$(PY) -m local_runner invoke --function "$$FN" --event "$$EVENT" --seed-users events/users.txt \
	  $(foreach o,$(shell cat events/s3-objects.txt),--s3-object $(o))

##@ operate
db-schema: $(VENV)/.installed ## print the MySQL DDL of users / user_stats
	$(PY) -c "import sys; sys.path.insert(0, 'layers/shared'); from csv_dmap.db import schema_ddl; print(schema_ddl('mysql'))"

##@ run
ROWS ?= 10000
run: $(VENV)/.installed node_modules/.installed ## run the whole pipeline locally: make run [CSV=file.csv] [ROWS=n] [DATABASE_URL=...]
	@$(PY) -m local_runner run $(if $(value CSV),--csv "$$CSV",--rows "$$ROWS") $(RUN_ARGS)

redrive: $(VENV)/.installed node_modules/.installed ## re-run the failed and pending batches of a failed local run: make redrive EXECUTION=local-...
	$(PY) -m local_runner redrive "$$EXECUTION" $(RUN_ARGS)

exec: $(VENV)/.installed ## run any definition on moto: make exec ARGS="--definition f.json --input '{}' --json" (exit 0/1/2)
	$(PY) -m local_runner exec $(ARGS)

##@ bench
BENCH_ROWS ?= 20000
BENCH_SIZES ?= 100000,1000000
bench: $(VENV)/.installed node_modules/.installed ## benchmarks -> BENCHMARKS.md (worker path, make run end to end, cold start, cost, capacity)
	$(PY) -m bench.worker_path --rows "$$BENCH_ROWS"
	$(PY) -m bench.e2e --sizes "$$BENCH_SIZES"
	$(PY) -m bench.coldstart
	$(PY) -m bench.cost --rows 1000000 --record > /dev/null
	$(PY) -m bench.capacity --rows 1000000 --record > /dev/null
	$(PY) -m bench.report

# make run of 10,000,000 rows on SQLite and MariaDB (hours on 2 cores): its own target, its own result file.
bench-10m: $(VENV)/.installed node_modules/.installed ## make run end to end at 10,000,000 rows -> BENCHMARKS.md
	$(PY) -m bench.e2e --sizes 10000000 --name e2e-10m
	$(PY) -m bench.report

ROWS_COST := $(if $(filter command line environment override,$(origin ROWS)),$(value ROWS),1000000)
export ROWS_COST
cost: $(VENV)/.installed ## cost of one run and a month: make cost ROWS=1000000 [CONFIG="--batch 100 --children STANDARD"]
	$(PY) -m bench.cost --rows "$$ROWS_COST" $(CONFIG)

##@ housekeeping
clean: clean-local ## remove build output, local state and virtualenvs
	rm -rf .aws-sam .local $(VENV) $(SAMVENV) $(CHECKOVVENV) node_modules .pytest_cache

# The local audit log (dynalite, .local/dynamodb), database (.local/csv_dmap.sqlite), data, outputs,
# samples and per-run S3 directories; the virtualenvs and node_modules stay.
clean-local: ## reset the local runs' state: audit table, SQLite database, .local/data and .local/out (keeps the virtualenvs)
	@if [ -x $(PY) ]; then $(PY) -c "from local_runner.local_aws import stop_dynamodb; stop_dynamodb()"; fi
	local="$${CSV_DMAP_LOCAL:-.local}"; rm -rf "$$local"/dynamodb "$$local"/csv_dmap.sqlite "$$local"/data "$$local"/out "$$local"/s3 "$$local"/bench "$$local"/sample-*.csv

##@ bench
# ---- capacity: the capacity model beside the cost model
.PHONY: capacity
capacity: $(VENV)/.installed ## what a run does on AWS (duration, binding resource, hottest key, connections, cost): make capacity ROWS=1000000 [CAPACITY_ARGS="--warm-write-units 40000"]
	$(PY) -m bench.capacity --rows "$$ROWS_COST" $(CAPACITY_ARGS)

##@ operate
# ---- analytics: SQL over the local runs' data (.local/data), with the Glue tables' names.
.PHONY: query
query: $(VENV)/.installed ## SQL over the local runs: make query SQL="SELECT ..." | FILE=q.sql | NAMED=user-history PARAMS="U1"
	@read -ra params <<< "$${PARAMS-}"; \
	$(PY) -m csv_dmap_cli --local query $(if $(value FILE),--file "$$FILE",$(if $(value NAMED),--named "$$NAMED" "$${params[@]/#/--param=}",--sql "$${SQL-}"))

##@ bench
# ---- load: concurrent local runs over overlapping users on MariaDB; the invariant checked after
LOAD_ROWS ?= 100000
LOAD_RUNS ?= 10
.PHONY: load
load: $(VENV)/.installed ## ten concurrent runs on one MariaDB database, invariant checked -> BENCHMARKS.md: make load [LOAD_ROWS=10000] [LOAD_ARGS="--users 150000"]
	$(PY) -m bench.load --runs "$$LOAD_RUNS" --rows "$$LOAD_ROWS" $(LOAD_ARGS)

# One run of 1,000,000 rows with several batches in flight (TargetDurationSeconds=5 asks DetermineConcurrency
# for as many workers as its bounds allow: the recorded run had 2 in flight), the invariant checked from the
# CSV text: bench/results/load-1m.json.
.PHONY: load-1m
load-1m: $(VENV)/.installed ## one 1,000,000-row run, several batches in flight, invariant checked from the CSV text (~25 min)
	$(PY) -m bench.load --runs 1 --rows 1000000 --parameter TargetDurationSeconds=5 --name load-1m $(LOAD_ARGS)

# The user values, exported once every default above is set (see AS_TYPED).
export $(AS_TYPED)
