"""`--database-tests=using|not-using`: keep only the tests that use the database under test
(TEST_DATABASE_URL's PostgreSQL, else SQLite), or only those that do not.

CI runs the suite on SQLite and again on PostgreSQL; a test that never reaches the
database under test (a pure function, a template, a store of its own on a SQLite file,
a browser test's seeded SQLite store) checks the same thing both times, so CI's
PostgreSQL run keeps `using`, and the tests `not-using` run once, on SQLite.

The database under test is reached in one way only: through TEST_DATABASE_URL, which the
suite reads in `empty_database` (the `database`, `database_url` -> `migrated_app` -> `app`
fixtures, tests/media's `store_database`) and in `committed_app`, or in a test module that
reads it itself (a store in a subprocess, a second machine). So a test uses it when the
source of any fixture it needs (directly or through other fixtures), of its own module,
or of a function, class or module of the tests that any of these uses (followed through
what it calls) names TEST_DATABASE_URL, empty_database or committed_app. Reading more
than needed only keeps a test in the `using` set: the rule errs towards running a test
on PostgreSQL too.
"""

from __future__ import annotations

import inspect
from functools import cache

import pytest

MARKS = ("TEST_DATABASE_URL", "empty_database", "committed_app")
CHOICES = ("using", "not-using")


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--database-tests",
        choices=CHOICES,
        default=None,
        help="keep only the tests that use the database under test (using) or the others",
    )


@cache
def _names_the_database(source: str) -> bool:
    return any(mark in source for mark in MARKS)


@cache
def _source_of(thing) -> str:
    try:
        return inspect.getsource(thing)
    except (OSError, TypeError):
        return ""


def _code_names(code) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            names |= _code_names(const)
    return names


def _reaches_database(thing, seen: set) -> bool:
    """Whether `thing` (a function or class of the tests) names the database under test,
    or calls a function or class of the tests that does."""
    inner = getattr(getattr(thing, "hypothesis", None), "inner_test", None)
    if inner is not None:
        thing = inner  # a hypothesis test: its own body, not the wrapper hypothesis made
    if inspect.isfunction(thing):
        thing = inspect.unwrap(thing)
    if id(thing) in seen:
        return False
    seen.add(id(thing))
    if _names_the_database(_source_of(thing)):
        return True
    if inspect.isclass(thing):
        members = [m for m in vars(thing).values() if inspect.isfunction(m)]
        return any(_reaches_database(m, seen) for m in members)
    code, scope = getattr(thing, "__code__", None), getattr(thing, "__globals__", {})
    if code is None:
        return True  # cannot read it: count it as using the database
    helpers = [scope.get(name) for name in _code_names(code)]
    return any(
        (inspect.isfunction(value) or inspect.isclass(value))
        and str(getattr(value, "__module__", "")).startswith("tests")
        and _reaches_database(value, seen)
        for value in helpers
    ) or any(  # a module of the tests used by name (`helpers.make()`): all of it counts
        inspect.ismodule(value)
        and value.__name__.startswith("tests")
        and _names_the_database(_source_of(value))
        for value in helpers
    )


def uses_database(item) -> bool:
    module, function = getattr(item, "module", None), getattr(item, "function", None)
    info = getattr(item, "_fixtureinfo", None)
    if module is None or function is None or info is None:
        return True
    if _names_the_database(_source_of(module)) or _reaches_database(function, set()):
        return True
    for name in info.names_closure:
        if name in ("database", "database_url", "committed_app", "migrated_app"):
            return True
        for definition in info.name2fixturedefs.get(name, ()):
            if _reaches_database(definition.func, set()):
                return True
    return False


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items) -> None:
    choice = config.getoption("--database-tests")
    if choice is None:
        return
    want = choice == "using"
    kept, dropped = [], []
    for item in items:
        (kept if uses_database(item) == want else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
