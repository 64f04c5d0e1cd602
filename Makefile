# The two commands: `make demo` and `make test`. Each sets itself up in .venv on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch==2.13.0 is pinned here so this machine takes its on-disk CPU wheel; users need torch>=2.13 (the floor the tests run).
TORCH_PIN ?= torch==2.13.0
DEMO_OUT ?= demo-out
# make test runs the suite on this many processes (pytest-xdist): one per core, at most 4 (each may start its own
# torch processes or a Ray cluster); TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= $(shell $(PY) -c "import os; print(min(4, len(os.sched_getaffinity(0))))" 2>/dev/null || echo 2)

.PHONY: install demo test bench clean

$(BIN)/.installed: pyproject.toml
	command -v tesseract >/dev/null || (apt-get update -qq && apt-get install -y -qq tesseract-ocr) \
		|| echo "tesseract-ocr not installed (apt-get install tesseract-ocr): ingest --ocr auto skips scanned pages"
	command -v chromium >/dev/null && command -v chromedriver >/dev/null \
		|| (apt-get update -qq && apt-get install -y -qq chromium chromium-driver) \
		|| echo "chromium not installed (apt-get install chromium chromium-driver): the view's browser tests fail"
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_PIN)"
	$(BIN)/pip install -q -e ".[all]" "$(TORCH_PIN)"
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/mmprolong demo --out $(DEMO_OUT)

# --durations=20: every run lists its 20 slowest tests (the suite's budget: 8 minutes on 2 cores)
test: install
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder --durations=20

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) build *.egg-info src/*.egg-info
