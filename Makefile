# conveyor: `make run` starts it, `make test` runs every check. Both set up what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DASHBOARD_SOURCES := $(shell find dashboard/src dashboard/index.html dashboard/package.json dashboard/vite.config.ts dashboard/tsconfig*.json -type f 2>/dev/null)

.PHONY: run test lint typecheck pytest dashboard dashboard-test wheel bench bench-growth clean lock

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

clean:
	rm -rf $(VENV) dashboard/node_modules dashboard/dist test-artifacts dist

# Re-pin requirements.lock from a fresh virtualenv with every extra the project installs.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv && .lock-venv/bin/pip install -q --upgrade pip
	.lock-venv/bin/pip install -q -e '.[test]'
	{ sed -n '1,4p' requirements.lock; .lock-venv/bin/pip freeze --exclude-editable | grep -v '^conveyor'; } > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lock-venv
