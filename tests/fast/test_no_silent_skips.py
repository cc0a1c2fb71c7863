"""tests/conftest.py: the soak is deselected rather than skipped, and CI turns any skip into a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import NO_SKIPS_ENV

pytest_plugins = ["pytester"]

SUITE = """
import pytest


def test_needs_a_service():
    pytest.skip("no nats-server binary on PATH")


@pytest.mark.xfail(reason="a known bug, not a missing service")
def test_known_bug():
    raise AssertionError


@pytest.mark.soak
def test_a_simulated_day():
    pass


def test_plain():
    pass
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(Path(__file__).parents[1].joinpath("conftest.py").read_text())
    pytester.makeini("[pytest]\nmarkers =\n    soak: a simulated day\n    storage: PostgreSQL\n")
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def _run(suite: pytest.Pytester, *args: str) -> pytest.RunResult:
    return suite.runpytest_inprocess(
        "-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function", *args
    )  # fmt: skip


def test_by_default_a_skip_is_a_skip_and_the_soak_is_deselected(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(NO_SKIPS_ENV, raising=False)
    result = _run(suite, "-ra")
    result.assert_outcomes(passed=1, skipped=1, xfailed=1, deselected=1)


def test_asking_for_the_soak_runs_it(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(NO_SKIPS_ENV, raising=False)
    _run(suite, "-m", "soak").assert_outcomes(passed=1, deselected=3)


def test_in_ci_a_skip_fails_and_says_why(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(NO_SKIPS_ENV, "1")
    result = _run(suite)
    result.assert_outcomes(passed=1, failed=1, xfailed=1, deselected=1)
    result.stdout.fnmatch_lines(
        [f"*skipped, and {NO_SKIPS_ENV}=1 forbids skips: *no nats-server binary on PATH*"]
    )
