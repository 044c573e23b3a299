# Two commands are the whole setup: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
PORTFOLIO_DB ?= data/portfolio.duckdb
export PORTFOLIO_DB

.PHONY: run test install demo bench

# Reinstall whenever requirements.txt changes.
$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

install: $(VENV)/.installed

demo: install
	@test -f "$(PORTFOLIO_DB)" || $(BIN)/python -m portfolio demo --db "$(PORTFOLIO_DB)"

run: demo
	$(BIN)/python -m streamlit run app.py --server.port $(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The scale benchmark (minutes, not seconds): prints a table; BENCH_ARGS="--sizes 1000 --json bench.json".
bench: install
	$(BIN)/python -m portfolio bench $(BENCH_ARGS)
