"""Credentials inside URLs: refused inline, accepted by reference and then kept secret."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from worker.config import load_settings, show_settings
from worker.errors import ConfigError
from worker.observability.logs import JsonFormatter, SecretFilter

TOKEN = "Tk-8Jd2-Omicron"
PASSWORD = "Pw-3Fs6-Lambda"
HOOK = "{name: w, url: '%s', secret: {env: HOOK_SECRET}}"
VOX = "{provider: vox_v3, account: a, base_url: '%s', api_key: {env: VOX_KEY}}"


@pytest.fixture(autouse=True)
def _references(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", "whsec_" + "A" * 32)
    monkeypatch.setenv("VOX_KEY", "vox-key-for-tests")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


INLINE = {
    "a password in a target's base_url": (
        f"targets:\n  - {VOX % f'https://ops:{PASSWORD}@api.vox.test'}\n",
        "targets.0.vox_v3.base_url: Value error, carries a user or password before the host",
    ),
    "a bare token before the host": (
        f"webhooks:\n  - {HOOK % f'https://{TOKEN}@hooks.test/in'}\n",
        "webhooks.0.url: Value error, carries a user or password before the host",
    ),
    "?token= in a webhook url": (
        f"webhooks:\n  - {HOOK % f'https://hooks.test/in?v=2&token={TOKEN}'}\n",
        "webhooks.0.url: Value error, carries a credential in query parameter 'token'",
    ),
    "?api_key=": (
        f"webhooks:\n  - {HOOK % f'https://hooks.test/in?api_key={TOKEN}'}\n",
        "query parameter 'api_key'",
    ),
    "?X-Amz-Signature=": (
        f"webhooks:\n  - {HOOK % f'https://hooks.test/in?X-Amz-Signature={TOKEN}'}\n",
        "query parameter 'X-Amz-Signature'",
    ),
    "?sig=": (
        f"targets:\n  - {VOX % f'https://api.vox.test/v?sig={TOKEN}'}\n",
        "targets.0.vox_v3.base_url: Value error, carries a credential in query parameter 'sig'",
    ),
    "a nats url with a password": (
        f"nats: {{url: 'nats://relay:{PASSWORD}@127.0.0.1:4222'}}\n",
        "nats.url: Value error, carries a user or password before the host",
    ),
}


@pytest.mark.parametrize("case", INLINE)
def test_a_credential_inline_in_a_url_is_refused_by_name(tmp_path: Path, case: str) -> None:
    text, expected = INLINE[case]
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    message = str(info.value)
    assert expected in message
    assert "by reference, {env: NAME} or {file: PATH}" in message
    assert TOKEN not in message and PASSWORD not in message


def test_a_url_given_by_reference_is_used_whole_and_kept_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = f"https://hooks.test/services/T0/B0/{TOKEN}x?token={TOKEN}"
    nats_file = tmp_path / "nats-url"
    nats_file.write_text(f"nats://relay:{PASSWORD}@127.0.0.1:4222\n")
    monkeypatch.setenv("HOOK_URL", hook)
    monkeypatch.setenv("VOX_URL", f"https://ops:{PASSWORD}@api.vox.test")
    settings = load_settings(
        write(
            tmp_path,
            "targets:\n  - {provider: vox_v3, account: a, base_url: {env: VOX_URL},"
            " api_key: {env: VOX_KEY}}\n"
            "webhooks:\n  - {name: w, url: {env: HOOK_URL}, secret: {env: HOOK_SECRET}}\n"
            f"nats: {{url: {{file: {nats_file}}}}}\n",
        )
    )
    assert settings.webhooks[0].url == hook  # the sender posts to the real URL
    assert settings.nats is not None and settings.nats.url.endswith("@127.0.0.1:4222")
    assert {TOKEN, PASSWORD} <= settings.secrets()
    shown = show_settings(settings)
    assert "url: https://hooks.test/***" in shown
    assert "url: nats://***@127.0.0.1:4222/***" not in shown  # origin only, nothing else
    assert "url: nats://127.0.0.1:4222/***" in shown
    assert "base_url: https://api.vox.test/***" in shown
    for where in (shown, repr(settings), str(settings.model_dump(mode="json"))):
        assert TOKEN not in where and PASSWORD not in where


def test_the_log_filter_blanks_url_credentials_it_was_never_told_about() -> None:
    # A URL from elsewhere (a provider's next-page link, a redirect) in any logger's line.
    record = logging.LogRecord(
        "httpx", logging.DEBUG, __file__, 1, "HTTP Request: %s %s", ("GET", ""), None
    )
    record.args = ("GET", f"https://ops:{PASSWORD}@api.test/v1?page=2&access_token={TOKEN}")
    assert SecretFilter(frozenset()).filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert TOKEN not in line["message"] and PASSWORD not in line["message"]
    assert line["message"].startswith("HTTP Request: GET https://ops:")
    assert "api.test/v1?page=2&access_token=" in line["message"]
