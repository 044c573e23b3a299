# Two commands are the whole setup: `make run` and `make test` (`make test-fast`
# while working: unit, integration and AppTest, about a minute and a half on two cores).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
DEFAULT_DB := data/portfolio.duckdb
PORTFOLIO_DB ?= $(DEFAULT_DB)
export PORTFOLIO_DB

# pytest's workers: one per core of the 2-core machines the project runs on.
WORKERS ?= 2
# pytest keeps the test modules it rewrites (for its assertion messages) as
# bytecode; a shell that forbids writing bytecode would have every run
# rewrite them all again.
# Every test works on a database file of its own, made and thrown away in a
# moment: in memory (/dev/shm) when the machine has room there, since a
# throwaway file need not reach the disk and writing it there costs a tenth
# of the fast tier's time. A passing test's files go when it ends
# (pytest.ini), so the room needed stays small; TEST_TMPDIR= keeps them on disk.
TEST_TMPDIR ?= $(shell d=/dev/shm; test -d $$d -a -w $$d && \
	test "$$(df -Pk $$d 2>/dev/null | awk 'NR == 2 {print $$4}')" -gt 2097152 2>/dev/null && echo $$d)
TEST_TMP = $(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR))
PYTEST = PYTHONDONTWRITEBYTECODE= $(TEST_TMP) $(BIN)/python -m pytest -n $(WORKERS) --dist worksteal

.PHONY: run test test-fast install demo first-start bench

# Reinstall whenever requirements.txt changes.
$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

install: $(VENV)/.installed

demo: install
	@test -f "$(PORTFOLIO_DB)" || $(BIN)/python -m portfolio demo --db "$(PORTFOLIO_DB)"

# The first start builds the demo at the default path only: a PORTFOLIO_DB
# that names a missing file is a typo the app reports, not a new portfolio.
first-start: install
	@test "$(PORTFOLIO_DB)" != "$(DEFAULT_DB)" || test -f "$(DEFAULT_DB)" || \
		$(BIN)/python -m portfolio demo --db "$(DEFAULT_DB)"

# The pages, the HTTP API and the calendar feeds, on one server and port (serve.py).
run: first-start
	$(BIN)/python -m streamlit run serve.py --server.port $(PORT)

# Everything CI needs (.ci/run): unit, integration, AppTest, faults, fuzzing
# and the browser journeys. PYTEST_ARGS adds pytest arguments; WORKERS=0 runs
# in one process.
test: install
	$(PYTEST) $(PYTEST_ARGS)

# The fast tier: all but the browser journeys (the e2e marker).
test-fast: install
	$(PYTEST) -m "not e2e and not thorough" $(PYTEST_ARGS)

# The scale benchmark (minutes, not seconds): prints a table; BENCH_ARGS="--sizes 1000 --json bench.json".
bench: install
	$(BIN)/python -m portfolio bench $(BENCH_ARGS)
