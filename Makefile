# Two commands are the whole setup: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
DEFAULT_DB := data/portfolio.duckdb
PORTFOLIO_DB ?= $(DEFAULT_DB)
export PORTFOLIO_DB

.PHONY: run test install demo first-start bench

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

run: first-start
	$(BIN)/python -m streamlit run app.py --server.port $(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The scale benchmark (minutes, not seconds): prints a table; BENCH_ARGS="--sizes 1000 --json bench.json".
bench: install
	$(BIN)/python -m portfolio bench $(BENCH_ARGS)
