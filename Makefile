# sciconv: the two commands. Both set the environment up first (idempotent, seconds when done).
VENV ?= .venv
PY := $(VENV)/bin/python
SCICONV := $(VENV)/bin/sciconv

.PHONY: demo test test-slow setup lint bench clean-venv

setup:
	@bash scripts/bootstrap.sh

demo: setup
	$(SCICONV) tour

# the suite and every docstring example of the four packages, in one pytest call
# (conftest.py lists what collection must not import)
test: setup lint
	SCICONV_REQUIRE_ALL=1 $(PY) -m pytest -q -p no:cacheprovider --doctest-modules tests sciconv tensors pde solvers

# the dense-SVD sweeps marked slow (minutes); not part of `make test`
test-slow: setup
	$(PY) -m pytest -q -p no:cacheprovider -m slow

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: setup
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done
	$(PY) benchmarks/poisson.py --quick

clean-venv:
	rm -rf $(VENV)
