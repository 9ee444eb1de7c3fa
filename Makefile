# The two commands of the README, and the checks they run. Everyone and CI use these targets.
PY := .venv/bin
PACKAGES := hatang alerts ingest registry timeseries api simulators firmware_contracts bench

.PHONY: run test setup lint typecheck pytest chart lock lock-upgrade

run: setup
	$(PY)/hatang run

test: setup lint typecheck pytest

setup:
	@bash scripts/setup.sh

lint:
	$(PY)/ruff check .

typecheck:
	$(PY)/mypy $(PACKAGES) tests scripts

pytest:
	$(PY)/pytest

# Refresh requirements/*.lock (hashed, universal) from pyproject.toml: after adding or changing a
# dependency, or to take upgrades; commit the lock files. Not behind `setup`, which refuses stale locks.
lock:
	@bash scripts/lock.sh

# The same, taking the newest versions pyproject.toml allows (then `make test`).
lock-upgrade:
	@bash scripts/lock.sh --upgrade

# The Helm chart, Dockerfile and compose.yaml checks alone (also part of `make test`).
chart: setup
	$(PY)/pytest tests/helm -q
