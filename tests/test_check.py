"""``flask --app feedback check`` as an operator runs it before start: a real ``flask``
process with a production environment against a real (migrated, seeded) database, a
real Redis, a real SMTP server and a listening SMS gateway. A good configuration exits 0;
each kind of bad configuration exits 1 and says what is wrong in Vietnamese and English."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from smtp_helpers import free_port

FLASK = str(Path(sys.executable).parent / "flask")
ROOT = Path(__file__).resolve().parent.parent
# Before 1 September the coming year's calendar is not due: no warning then.
SUMMER = "2026-06-01T09:00:00+07:00"
DECEMBER = "2026-12-05T09:00:00+07:00"


@pytest.fixture
def gateway() -> Iterator[int]:
    """A TCP port that accepts connections, as an SMS gateway would."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


@pytest.fixture
def good_env(database_url: str, tmp_path: Path, smtp: Any, gateway: int) -> dict[str, str]:
    instance = tmp_path / "instance"
    instance.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEEDBACK_", "TEST_"))}
    env.update(
        FEEDBACK_ENV="production",
        FEEDBACK_INSTANCE_PATH=str(instance),
        SECRET_KEY="s" * 48,
        IDENTITY_KEY=Fernet.generate_key().decode(),
        DATABASE_URL=database_url,
        WEB_WORKERS="2",
        REDIS_URL="redis://127.0.0.1:6379/15",
        MAIL_SERVER=smtp.host,
        MAIL_PORT=str(smtp.port),
        SMS_GATEWAY_URL=f"http://127.0.0.1:{gateway}/send",
        TRUSTED_PROXIES="1",
        PUBLIC_URL="https://phananh.hagiang.gov.vn",
    )
    return env


def check(env: dict[str, str], now: str = SUMMER) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FLASK, "--app", "feedback", "check", "--now", now],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_good_production_configuration_passes(good_env: dict[str, str]) -> None:
    result = check(good_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 lỗi, 0 cảnh báo / 0 errors, 0 warnings." in result.stdout
    assert "MAIL_SERVER" in result.stdout and "SMS_GATEWAY_URL" in result.stdout


def test_the_coming_years_calendar_is_a_warning_not_an_error(good_env: dict[str, str]) -> None:
    result = check(good_env, now=DECEMBER)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[CẢNH BÁO / WARNING] calendar: Chưa nhập văn bản" in result.stdout
    assert "2027" in result.stdout and "0 lỗi, 1 cảnh báo" in result.stdout


def _empty_sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'empty.sqlite'}"


BAD: dict[str, tuple[dict[str, str], str, str]] = {
    # name: (changes to the good environment, Vietnamese text, English text)
    "short secret": ({"SECRET_KEY": "short"}, "SECRET_KEY chưa đặt", "SECRET_KEY is unset"),
    "bad identity key": (
        {"IDENTITY_KEY": "not-a-fernet-key"},
        "IDENTITY_KEY chưa đặt hoặc không phải khóa Fernet",
        "not a valid Fernet key",
    ),
    "not migrated": ({"DATABASE_URL": "EMPTY"}, "chưa ở phiên bản mới nhất", "db upgrade"),
    "workers without redis": (
        {"REDIS_URL": ""},
        "WEB_WORKERS=2 nhưng chưa đặt REDIS_URL",
        "REDIS_URL is unset",
    ),
    "redis unreachable": (
        {"REDIS_URL": "redis://127.0.0.1:CLOSED/0"},
        "Không kết nối được Redis",
        "is not reachable",
    ),
    "mail unreachable": (
        {"MAIL_PORT": "CLOSED"},
        "Không kết nối được MAIL_SERVER",
        "MAIL_SERVER at 127.0.0.1",
    ),
    "sms unreachable": (
        {"SMS_GATEWAY_URL": "http://127.0.0.1:CLOSED/send"},
        "Không kết nối được SMS_GATEWAY_URL",
        "SMS_GATEWAY_URL at 127.0.0.1",
    ),
    "zalo not http": (
        {"ZALO_ACCESS_TOKEN": "t", "ZALO_ZNS_URL": "zalo.me"},
        "ZALO_ZNS_URL không phải địa chỉ http(s)",
        "not a valid http(s) address",
    ),
    "proxies out of range": (
        {"TRUSTED_PROXIES": "9"},
        "Biến môi trường không hợp lệ: TRUSTED_PROXIES",
        "Invalid environment variable: TRUSTED_PROXIES",
    ),
    "uploads not writable": (
        {"UPLOADS_BLOCKED": "1"},
        "Không ghi được vào thư mục",
        "Cannot write",
    ),
    "development mode": (
        {"FEEDBACK_ENV": "development"},
        "FEEDBACK_ENV=development: chế độ phát triển",
        "use FEEDBACK_ENV=production",
    ),
}


@pytest.mark.parametrize("name", list(BAD))
def test_each_bad_configuration_is_reported_in_both_languages(
    name: str, good_env: dict[str, str], tmp_path: Path
) -> None:
    changes, vietnamese, english = BAD[name]
    env = dict(good_env)
    closed = str(free_port())  # nothing listens there
    for key, value in changes.items():
        if key == "UPLOADS_BLOCKED":  # a file where the uploads folder should be
            (Path(env["FEEDBACK_INSTANCE_PATH"]) / "uploads").write_text("x")
            continue
        if value == "EMPTY":
            value = _empty_sqlite(tmp_path)
        env[key] = value.replace("CLOSED", closed)
    result = check(env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert vietnamese in result.stdout
    assert english in result.stdout
    assert "\n1 lỗi, " in result.stdout, result.stdout  # that one problem, nothing else
