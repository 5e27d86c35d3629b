"""Collection rules for ``make test``: one pytest call runs the suite and the docstring examples.

``make test`` runs ``pytest --doctest-modules tests sciconv tensors pde solvers``, so pytest
imports every ``.py`` file under those paths to look for examples. Two kinds of file must not
be imported: the CLI's ``__main__`` (importing it runs the command) and the scripts that the
MPI tests launch under ``mpiexec`` (they run on import). Paths are relative to this file.
"""

collect_ignore_glob = ["sciconv/cli/__main__.py", "tests/*_script.py"]
