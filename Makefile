# Two entry points for a fresh machine: `make demo` and `make test`.
# Torch is pinned and installed first so that pip never pulls the CUDA stack on CPU machines.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.groklab-installed
TORCH_PIN ?= torch==2.13.0
GAP_PACKAGES := gap-core gap-libs gap-smallgrp

.PHONY: demo test gap browser bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_PIN)"
	$(BIN)/pip install -q -e ".[dev,ray]"
	@touch $(STAMP)

# GAP is only needed for the SmallGroups catalog; install it where we can, explain where we cannot.
gap:
	@if command -v gap >/dev/null 2>&1; then \
		true; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing GAP ($(GAP_PACKAGES)) with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(GAP_PACKAGES) >/dev/null; \
	else \
		echo "GAP not found: install it with 'sudo apt-get install $(GAP_PACKAGES)' (GAP-only tests will skip)"; \
	fi

# Debian chromium renders the HTML report in the browser test (skipped, with this hint, without it).
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
		true; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium with apt-get (for the report's browser test)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "chromium not found: install it with 'sudo apt-get install chromium' (the report browser test will skip)"; \
	fi

demo: $(STAMP)
	$(BIN)/groklab demo --quick

# Two worker processes of one torch thread each (tests/conftest.py), a file at a time (module fixtures built once).
TEST_WORKERS ?= 2

test: $(STAMP) gap browser
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

bench: $(STAMP)
	$(BIN)/python benchmarks/irreps.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
