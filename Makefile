# Every target sets up .venv on first use only: a second run does not reinstall.
PY := .venv/bin/python
STAMP := .venv/.installed
PORT ?= 8501

.PHONY: run test test-all lint bench checkpoint reproduce reproduce-quick clean

$(STAMP): requirements.txt
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m streamlit run app/streamlit_app.py --server.port $(PORT) --server.headless true

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: $(STAMP) lint
	$(PY) -m pytest

test-all: $(STAMP)
	$(PY) -m pytest -m "" 

bench: $(STAMP)
	$(PY) -m amff bench --out bench.json

checkpoint: $(STAMP)
	$(PY) -m amff make-checkpoints --out checkpoints

reproduce: $(STAMP)
	$(PY) -m amff reproduce --profile paper --out assets/results

reproduce-quick: $(STAMP)
	$(PY) -m amff reproduce --profile quick --out runs/quick

clean:
	rm -rf runs .pytest_cache .ruff_cache
