# `make demo` and `make test` each bootstrap .venv by themselves, once.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.xsweep-installed
DEMO_DATA := .xsweep/demo-data

# Without a GPU, pin torch to the CPU build (a plain `torch` pulls a multi-GB CUDA build).
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo yes)
TORCH := $(if $(HAS_GPU),torch>=2.13,torch==2.13.0)
FIND_LINKS := $(if $(wildcard /opt/wheels),--find-links /opt/wheels,)
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check $(FIND_LINKS)

.PHONY: demo test lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) "$(TORCH)"
	$(PIP) -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/xsweep data demo --out $(DEMO_DATA)
	$(BIN)/xsweep launch --name demo --scales tiny,mini --intermediate mnli,qqp --targets xnli,pawsx \
		--trials 3 --seeds 2 --data $(DEMO_DATA) --no-table
	$(BIN)/xsweep report --name demo

# pytest exits 5 when it collects nothing; that is not a failure of the suite.
# Two workers (pytest-xdist): the end-to-end tests spend part of their time starting Ray,
# servers and processes, which overlaps. Each worker builds the session's shared sweeps it
# needs (benchmarks/README.md has the suite's measured time).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -ra --durations=12 -n 2; status=$$?; if [ $$status -eq 5 ]; then exit 0; fi; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .xsweep mlflow.db optuna.db mlartifacts
