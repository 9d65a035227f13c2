# The two commands of README.md:  `make serve`  and  `make test`.
PY := .venv/bin/python
PORT ?= 8000
BASE_URL ?=        # the address the site is published at, e.g. https://USER.github.io/REPO/ (canonical URLs, sitemap)

.PHONY: serve test build build-local bench setup clean

serve:
	@scripts/setup.sh
	$(PY) build.py serve --port $(PORT)

test:
	@scripts/setup.sh --test
	$(PY) -m pytest -n 2 --dist loadgroup

build:
	@scripts/setup.sh
	$(PY) build.py $(if $(strip $(BASE_URL)),--base-url "$(strip $(BASE_URL))")

build-local:
	@scripts/setup.sh
	$(PY) build.py --pyodide local $(if $(strip $(BASE_URL)),--base-url "$(strip $(BASE_URL))")

bench:
	@scripts/setup.sh --test
	$(PY) bench/run.py

clean:
	rm -rf site .site-* .cache
