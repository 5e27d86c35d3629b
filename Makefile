# sciconv: the two commands. Both set the environment up first (idempotent, seconds when done).
VENV ?= .venv
PY := $(VENV)/bin/python
SCICONV := $(VENV)/bin/sciconv

.PHONY: demo test test-slow setup lint docs bench clean-venv

setup:
	@bash scripts/bootstrap.sh

demo: setup
	$(SCICONV) tour

# the suite and every docstring example of the four packages, in one pytest call
# (conftest.py lists what collection must not import); the API docs must build without warnings
test: setup lint docs
	SCICONV_REQUIRE_ALL=1 $(PY) -m pytest -q -p no:cacheprovider --doctest-modules tests sciconv tensors pde solvers

# the dense-SVD sweeps marked slow (minutes); not part of `make test`
test-slow: setup
	$(PY) -m pytest -q -p no:cacheprovider -m slow

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# the API reference (Sphinx: autodoc + napoleon + MathJax) in out/docs/html; every warning is an
# error, and -E rereads every docstring (a cached build would not warn again about unchanged ones)
docs: setup
	$(PY) -m sphinx -E -W --keep-going -b html -q -d out/docs/doctrees docs out/docs/html

bench: setup
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done
	$(PY) benchmarks/poisson.py --quick

clean-venv:
	rm -rf $(VENV)
