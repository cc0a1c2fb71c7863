"""What the wheel (the container image's install) carries: the license it claims, the
``py.typed`` marker it claims, and the example config its error messages point to. The
wheel is built as the image builds it, unpacked, and run from there."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.acceptance.test_cli import cli

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "config" / "example.yaml").read_text()
NO_TARGETS = (
    "campaign-sync: no targets configured; list them under `targets:` in the config file "
    "(`campaign-sync config example` prints a commented example), or try `campaign-sync demo`"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built by its declared backend (pip fetches hatchling as a
    build dependency, from its cache or the index, as any PEP 517 frontend does)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
         "--disable-pip-version-check", "-w", str(out), str(ROOT)],
        check=True,
        timeout=300,
    )  # fmt: skip
    (built,) = out.glob("campaign_sync-*.whl")
    return built


@pytest.fixture(scope="module")
def unpacked(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


def from_wheel(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run with only the wheel's ``worker`` importable (not the checkout's)."""
    env = {**os.environ, "PYTHONPATH": str(site), "CAMPAIGN_SYNC_LOG_FORMAT": "text"}
    env.pop("CAMPAIGN_SYNC_CONFIG", None)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def test_the_wheel_carries_license_marker_and_example(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (info,) = {n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")}
        licenses = [n for n in names if n.startswith(f"{info}/") and n.endswith("/LICENSE")]
        assert len(licenses) == 1, sorted(n for n in names if n.startswith(info))
        license_text = archive.read(licenses[0]).decode()
        metadata = archive.read(f"{info}/METADATA").decode()
        example = archive.read("worker/example.yaml").decode()
    assert "worker/py.typed" in names
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in license_text
    assert license_text == (ROOT / "LICENSE").read_text()
    assert "License-Expression: Apache-2.0" in metadata
    assert "Classifier: Typing :: Typed" in metadata
    assert example == EXAMPLE


def test_a_wheel_install_prints_the_example_its_error_points_to(
    unpacked: Path, tmp_path: Path
) -> None:
    where = from_wheel(unpacked, tmp_path, "-c", "import worker; print(worker.__file__)")
    assert where.stdout.strip() == str(unpacked / "worker" / "__init__.py"), where.stderr
    config = tmp_path / "config.yaml"
    config.write_text("log_level: INFO\n")
    refused = from_wheel(unpacked, tmp_path, "-m", "worker", "--config", str(config), "sync-once")
    assert (refused.returncode, refused.stderr.splitlines()) == (2, [NO_TARGETS])
    example = from_wheel(unpacked, tmp_path, "-m", "worker", "config", "example")
    assert (example.returncode, example.stderr) == (0, "")
    assert example.stdout == EXAMPLE


async def test_a_checkout_prints_the_same_example() -> None:
    result = await cli("config", "example")
    assert (result.returncode, result.stdout) == (0, EXAMPLE)
