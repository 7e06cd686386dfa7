# conveyor: `make run` starts it, `make test` runs every check. Both set up what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DASHBOARD_SOURCES := $(shell find dashboard/src dashboard/index.html dashboard/package.json dashboard/vite.config.ts dashboard/tsconfig*.json -type f 2>/dev/null)

.PHONY: run test lint typecheck pytest dashboard dashboard-test wheel bench bench-growth bench-retention bench-listing fuzz clean lock

run: $(VENV)/.installed dashboard/dist/index.html
	$(BIN)/conveyor up

test: $(VENV)/.installed-test dashboard/dist/index.html lint typecheck dashboard-test pytest

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	touch $@

# A checkout runs on either store, so it gets the PostgreSQL driver (the `postgres` extra).
$(VENV)/.installed: $(VENV)/.created pyproject.toml requirements.lock
	$(BIN)/pip install -q -c requirements.lock -e '.[postgres]'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml requirements.lock
	$(BIN)/pip install -q -c requirements.lock -e '.[test]'
	touch $@

dashboard/node_modules/.package-lock.json: dashboard/package-lock.json
	cd dashboard && npm ci --no-audit --no-fund

dashboard/dist/index.html: dashboard/node_modules/.package-lock.json $(DASHBOARD_SOURCES)
	cd dashboard && npm run build

dashboard: dashboard/dist/index.html

# dist/conveyor-<version>-py3-none-any.whl (and the sdist), the built dashboard inside.
wheel: $(VENV)/.installed-test dashboard/dist/index.html
	$(BIN)/python -m build --outdir dist

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

dashboard-test: dashboard/node_modules/.package-lock.json
	cd dashboard && npm test

pytest: $(VENV)/.installed-test
	$(BIN)/pytest

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench.run

# Cost growth: 1,000,000 stored jobs and a 1,000,000-job drain per store; tens of minutes.
bench-growth: $(VENV)/.installed-test
	$(BIN)/python -m bench.run --only growth

# Retention: prune 1,000,000 stored done jobs while a drain runs (PostgreSQL); about 20 minutes.
bench-retention: $(VENV)/.installed-test
	$(BIN)/python -m bench.retention --store postgres --rows 1000000 --drain-jobs 60000

# Listing at 1,000,000 finished jobs (pages, filters, bulk previews; both stores): 10-15 minutes.
bench-listing: $(VENV)/.installed-test
	$(BIN)/python -m bench.listing --store both --rows 1000000

# A long fuzz campaign over every operation of /openapi.json (tests/api/test_fuzz.py, which
# `make test` runs briefly): both stores, key off and on, FUZZ_EXAMPLES per operation and
# mode, a new seed each run unless FUZZ_SEED is given (printed, to replay a failure).
FUZZ_EXAMPLES ?= 500
fuzz: $(VENV)/.installed-test
	@seed=$(or $(FUZZ_SEED),$$(date +%s)); echo "fuzz seed: $$seed (replay: make fuzz FUZZ_SEED=$$seed)"; \
	CONVEYOR_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) CONVEYOR_FUZZ_SEED=$$seed \
		$(BIN)/pytest tests/api/test_fuzz.py -q --timeout=0 -p no:cacheprovider

clean:
	rm -rf $(VENV) dashboard/node_modules dashboard/dist test-artifacts dist

# Re-pin requirements.lock from a fresh virtualenv with every extra the project installs.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv && .lock-venv/bin/pip install -q --upgrade pip
	.lock-venv/bin/pip install -q -e '.[test]'
	{ sed -n '1,4p' requirements.lock; .lock-venv/bin/pip freeze --exclude-editable | grep -v '^conveyor'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lock-venv
