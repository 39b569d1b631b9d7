"""Developer tasks: ``nox -s tests``, ``nox -s lint``, ``nox -s typecheck``, ``nox -s example``."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "docs", "tests"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"


def _install(session: nox.Session, extras: str) -> None:
    session.install("-e", f".[{extras}]")


@nox.session(python=PYTHON)
@nox.parametrize("backend", ["trio", "asyncio"])
def tests(session: nox.Session, backend: str) -> None:
    """The test suite on one anyio backend (``-- <pytest args>`` to pass more)."""
    _install(session, "test")
    for folder in ("tests/js", "tests/e2e", "examples/chat"):
        session.run("npm", "ci", "--prefix", folder, "--no-audit", "--no-fund", external=True)
    session.run("pytest", "-k", f"{backend} or not (trio or asyncio)", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    _install(session, "lint")
    session.run("ruff", "check", "src", "tests", "examples")
    session.run("ruff", "format", "--check", "src", "tests", "examples")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, the tests and the examples."""
    _install(session, "test,lint")
    session.run("mypy")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site (warnings are errors) into docs/_build/html."""
    _install(session, "docs")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html")


@nox.session(python=PYTHON)
def example(session: nox.Session) -> None:
    """Serve the echo example on http://127.0.0.1:3000 under Hypercorn's trio worker."""
    _install(session, "test")
    session.run(
        "hypercorn", "examples.echo:app", "--worker-class", "trio", "--bind", "127.0.0.1:3000"
    )


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """The benchmark suite (``-- --quick`` for a smoke run; see benchmarks/README.md)."""
    _install(session, "bench")
    with session.chdir("benchmarks/loadgen"):
        session.run("npm", "ci", "--no-audit", "--no-fund", external=True)
    session.run("python", "benchmarks/run.py", *session.posargs)
