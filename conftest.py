"""Collection rules for ``make test``: one pytest call runs the suite and the docstring examples.

``make test`` runs ``pytest --doctest-modules tests sciconv tensors pde solvers``, so pytest
imports every ``.py`` file under those paths to look for examples. Two kinds of file must not
be imported: the CLI's ``__main__`` (importing it runs the command) and the scripts that the
MPI tests launch under ``mpiexec`` (they run on import). Paths are relative to this file.
"""

collect_ignore_glob = ["sciconv/__main__.py", "sciconv/cli/__main__.py", "tests/*_script.py"]


def pytest_sessionfinish(session, exitstatus):  # noqa: ANN001 - pytest hook
    """With ``SCICONV_REQUIRE_ALL=1`` (``make test``, so CI), a skip is a failure.

    Only a skip whose reason names CUDA passes: that is a capability a CPU machine cannot
    have. A skip because petsc4py, mpi4py, pyamg, geoopt or ``mpiexec`` is missing means the
    environment is broken, and a green run would hide that half the package went untested.
    """
    import os

    if os.environ.get("SCICONV_REQUIRE_ALL") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    bad = [r for r in skipped if "cuda" not in str(r.longrepr).lower()]
    if bad:
        reporter.write_line("")
        reporter.write_line(
            f"SCICONV_REQUIRE_ALL=1: {len(bad)} test(s) skipped for a reason other than a "
            "missing CUDA device; a skip is a failure here:",
            red=True,
        )
        for r in bad[:20]:
            reporter.write_line(f"  {r.nodeid}: {r.longrepr}")
        session.exitstatus = 1
