# Every target bootstraps .venv on a fresh machine; nothing else needs installing by hand.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo-out

.PHONY: all venv demo test lint-imports bench clean system-deps constraints

all: test

# Debian packages: Tesseract OCR for burned-in text detection (optional; a pure-Python detector
# is used when it is missing). Installed when we are root and apt-get exists.
system-deps:
	@if ! command -v tesseract >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-eng >/dev/null) \
	      || echo "warning: tesseract-ocr could not be installed; using the pure-Python text detector"; \
	  else echo "note: tesseract-ocr not found and not root; using the pure-Python text detector"; fi; \
	fi
	@# Headless Chromium: the dataset card and review page tests use a real browser (skipped without it).
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: chromium could not be installed; the dataset card browser test will be skipped"; \
	  else echo "note: chromium not found and not root; the dataset card browser test will be skipped"; fi; \
	fi

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch's CPU wheel first (a pinned version that the local index serves), so resolving the project
# never pulls a multi-GB CUDA build.
TORCH ?= torch==2.13.0

# constraints.txt holds the versions CI resolved (see `make constraints`).
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install -q -c constraints.txt "$(TORCH)"
	$(BIN)/pip install -q -c constraints.txt -e ".[test,ocr]"
	@touch $(STAMP)

# Rewrite constraints.txt from the versions now installed in .venv (after changing dependencies).
constraints: $(STAMP)
	@{ sed -n '/^#/p' constraints.txt; $(BIN)/python -m pip freeze --exclude-editable | grep -v '^#' \
	  | sed -E 's/\+[a-z0-9.]+$$//' | sort -f; } > constraints.txt.new && mv constraints.txt.new constraints.txt

venv: system-deps $(STAMP)

demo: venv
	$(BIN)/radcurate demo --out $(DEMO_OUT)

# pytest exits 5 when it collected no tests: not a failure of the code.
test: venv
	$(BIN)/python -m pytest -q $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then exit 0; fi; exit $$rc

# The architecture contracts of pyproject.toml ([tool.importlinter]); `make test` runs them too.
lint-imports: venv
	$(BIN)/python scripts/lint_imports.py

bench: venv
	$(BIN)/pip install -q -e ".[bench]"
	# Presidio pins an older preshed than spaCy's; its analyzer runs fine beside ours without it.
	$(BIN)/pip install -q --no-deps presidio-analyzer tldextract requests-file
	@failed=""; for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || failed="$$failed $$b"; done; \
	if [ -n "$$failed" ]; then echo "goals not met (or errors) in:$$failed"; exit 1; fi

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
