"""Configuration: YAML plus environment, secrets by reference only, clear errors without values."""

from __future__ import annotations

from pathlib import Path

import pytest

from worker.config import VoxoTarget, load_settings
from worker.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_example_config_loads_with_its_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("VOX_ACME_API_KEY", "VOXO_PASSWORD", "SARVAM_API_KEY"):
        monkeypatch.setenv(name, f"secret-{name}")
    example = (ROOT / "config" / "example.yaml").read_text()
    key_file = tmp_path / "vox-legacy-key"
    key_file.write_text("legacy-secret\n")
    path = write(
        tmp_path, example.replace("/var/run/secrets/campaign-sync/vox-legacy-key", str(key_file))
    )
    settings = load_settings(path)
    assert [t.name for t in settings.targets] == [
        "vox_v3/acme",
        "vox_v2/acme-legacy",
        "voxo/main",
        "sarvam/collections",
    ]
    assert settings.targets[1].api_key.get_secret_value() == "legacy-secret"  # type: ignore[union-attr]
    assert "secret-VOXO_PASSWORD" in settings.secrets()
    assert "secret-VOX_ACME_API_KEY" not in repr(settings)


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMPAIGN_SYNC_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("CAMPAIGN_SYNC_DATABASE_URL", "postgresql://u:hunter2@db/cs")
    settings = load_settings(write(tmp_path, "log_level: WARNING\n"))
    assert settings.log_level == "DEBUG"
    assert settings.database_url is not None
    assert "hunter2" in settings.secrets()  # the URL's password is blanked out of logs


def test_inline_secrets_are_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "targets:\n  - {provider: vox_v3, account: a, base_url: 'https://x', api_key: sk-live-123}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "targets.0.vox_v3.api_key" in str(info.value)
    assert "never inline" in str(info.value)
    assert "sk-live-123" not in str(info.value)


def test_missing_secret_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_KEY", raising=False)
    path = write(
        tmp_path,
        "targets:\n  - {provider: vox_v3, account: a, base_url: 'https://x', api_key: {env: NOPE_KEY}}\n",
    )
    with pytest.raises(ConfigError, match="environment variable NOPE_KEY is not set"):
        load_settings(path)


def test_unknown_keys_zones_and_duplicates_are_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("K", "v")
    bad_zone = (
        "targets:\n  - {provider: voxo, account: a, base_url: 'https://x', email: a@b.c,"
        " password: {env: K}, tenant_id: 1, lastrun_timezone: Mars/Base}\n"
    )
    with pytest.raises(ConfigError, match="lastrun_timezone: Value error, unknown IANA zone"):
        load_settings(write(tmp_path, bad_zone))
    dupes = (
        "targets:\n"
        "  - {provider: vox_v3, account: a, base_url: 'https://x', api_key: {env: K}}\n"
        "  - {provider: vox_v3, account: a, base_url: 'https://y', api_key: {env: K}}\n"
    )
    with pytest.raises(ConfigError, match="duplicate targets: vox_v3/a"):
        load_settings(write(tmp_path, dupes))
    with pytest.raises(ConfigError, match="polling: Extra inputs are not permitted"):
        load_settings(write(tmp_path, "polling: 5\n"))
    too_big = "targets:\n  - {provider: vox_v3, account: a, base_url: 'https://x', api_key: {env: K}, page_size: 500}\n"
    with pytest.raises(ConfigError, match="page_size: Input should be less than or equal to 100"):
        load_settings(write(tmp_path, too_big))
    held_past_deadline = (
        "targets:\n  - {provider: vox_v3, account: a, base_url: 'https://x', api_key: {env: K},"
        " limits: {cycle_deadline: 5, batch_wait: 5}}\n"
    )
    with pytest.raises(
        ConfigError,
        match=r"limits.batch_wait \(5 s\) must be shorter than limits.cycle_deadline \(5 s\)",
    ):
        load_settings(write(tmp_path, held_past_deadline))
    short = write(
        tmp_path,
        "targets:\n  - {provider: vox_v3, account: a, base_url: 'https://x', api_key: {env: K},"
        " limits: {cycle_deadline: 1}}\n",
    )
    assert load_settings(short).targets[0].limits.batch_wait == 0.5  # unset: half the deadline


def test_unreadable_or_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_settings(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(write(tmp_path, "targets: [\n"))


def test_voxo_lastrun_zone_accepts_campaign_or_an_iana_zone() -> None:
    common = {
        "account": "a",
        "base_url": "https://x",
        "email": "a@b.c",
        "password": {"file": __file__},
        "tenant_id": 1,
    }
    assert VoxoTarget.model_validate(common).lastrun_timezone == "campaign"
    assert (
        VoxoTarget.model_validate({**common, "lastrun_timezone": "UTC"}).lastrun_timezone == "UTC"
    )
