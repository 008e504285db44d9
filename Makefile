# make demo: set up, train a small model on data/corpus.txt and complete a prompt.
# make test: set up, then run the test suite.
# make bench: set up, then measure latency on this machine (bench/results.json).
# make quality: set up, then train with the defaults on tinyshakespeare for fixed times (bench/quality.json).
# GPU users: make setup TORCH_SPEC="torch==2.13.0" TORCH_INDEX=https://download.pytorch.org/whl/cu126
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
BIN := $(VENV)/bin

PROMPT ?= When there is fire

.PHONY: setup demo test bench quality clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/lstmtext train data/corpus.txt --name demo --max-time 120
	$(BIN)/lstmtext complete "$(PROMPT)" --model demo

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python -m bench.run

quality: setup
	$(BIN)/python -m bench.quality

clean:
	rm -rf $(VENV) build *.egg-info
