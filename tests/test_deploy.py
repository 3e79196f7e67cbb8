"""The files in deploy/ agree with the code and with each other: the gunicorn config
(read as gunicorn reads it: a Python file) preloads, binds to loopback and takes its
worker count from WEB_WORKERS; the systemd units start commands the app has, from paths
the repository holds, with the scheduler out of the web workers; nginx passes what
TRUSTED_PROXIES=1 believes, accepts the app's largest body and serves the static folder;
the environment file names every variable the app reads and holds no secret."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest
from flask import Flask

from feedback import config as cfg

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
INSTALLED = "/srv/feedback/"  # where the units expect the repository


def _unit(name: str) -> dict[str, list[str]]:
    """Key → values of a systemd unit file (a key may repeat)."""
    found: dict[str, list[str]] = {}
    for line in (DEPLOY / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def _env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (DEPLOY / "feedback.env.example").read_text().splitlines():
        match = re.match(r"^#?([A-Z][A-Z0-9_]+)=(.*)$", line)
        if match:
            values[match.group(1)] = match.group(2)
    return values


def test_gunicorn_config_preloads_binds_loopback_and_reads_web_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEB_WORKERS", "3")
    settings = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert settings["preload_app"] is True
    assert settings["workers"] == 3
    assert settings["bind"].startswith("127.0.0.1:")
    # Above the database's statement timeout, so a stuck request gets its 503 first.
    assert settings["timeout"] * 1000 > cfg.defaults("/tmp")["DATABASE_STATEMENT_TIMEOUT_MS"]


@pytest.mark.parametrize("unit", ["feedback-web.service", "feedback-scheduler.service"])
def test_units_run_commands_the_app_has_from_paths_the_repository_holds(
    unit: str, app: Flask
) -> None:
    keys = _unit(unit)
    assert keys["EnvironmentFile"] == ["/etc/feedback/feedback.env"]
    assert "FEEDBACK_SCHEDULER=off" in keys["Environment"]
    commands = keys["ExecStartPre"] + keys["ExecStart"]
    assert "/srv/feedback/.venv/bin/flask --app feedback check" in commands
    app_commands = set(app.cli.list_commands(None))  # type: ignore[arg-type]
    for command in commands:
        words = command.split()
        for word in words:
            if word.startswith(INSTALLED) and "/.venv/" not in word:
                assert (ROOT / word.removeprefix(INSTALLED)).exists(), word
        if words[0].endswith("/flask"):
            assert words[1:3] == ["--app", "feedback"]
            assert words[3] in app_commands, words[3]
        elif words[0].endswith("/gunicorn"):
            module, _, attribute = words[-1].partition(":")
            assert (ROOT / f"{module}.py").exists()
            assert f"{attribute} = create_app()" in (ROOT / f"{module}.py").read_text()
    if unit == "feedback-scheduler.service":
        assert keys["ExecStart"] == ["/srv/feedback/.venv/bin/flask --app feedback scheduler"]


def test_nginx_matches_trusted_proxies_the_body_limit_and_the_static_folder() -> None:
    site = (DEPLOY / "nginx-feedback.conf").read_text()
    assert "proxy_set_header X-Forwarded-For   $proxy_add_x_forwarded_for;" in site
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in site
    assert _env_example()["TRUSTED_PROXIES"] == "1"
    size = re.search(r"client_max_body_size (\d+)m;", site)
    assert size is not None
    assert int(size.group(1)) * 1024 * 1024 >= cfg.defaults("/tmp")["MAX_CONTENT_LENGTH"]
    static = re.search(r"location /static/ \{\s*alias (\S+);", site)
    assert static is not None and static.group(1) == INSTALLED + "static/"
    assert (ROOT / "static" / "style.css").exists()
    gunicorn = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert f"server {gunicorn['bind']};" in site


def test_the_environment_file_names_every_variable_and_holds_no_secret() -> None:
    example = _env_example()
    read_by_app = set(cfg._PASSTHROUGH) | {
        "DATABASE_URL",
        "REDIS_URL",
        "TRUSTED_PROXIES",
        "WEB_WORKERS",
        "FEEDBACK_INSTANCE_PATH",
        "RATELIMIT_ENABLED",
        "MAIL_PORT",
        "MAIL_USE_TLS",
        "SMS_UNACCENTED",
        "ZALO_TEMPLATE_IDS",
        "NOTIFY_HTTP_TIMEOUT",
        "FEEDBACK_SWEEP_SECONDS",
        "FEEDBACK_DELIVER_SECONDS",
        "DATABASE_BUSY_TIMEOUT_MS",
        "DATABASE_LOCK_TIMEOUT_MS",
        "DATABASE_STATEMENT_TIMEOUT_MS",
        "API_TOKEN_TTL_DAYS",
        *cfg.ATTACHMENT_QUOTAS,
    }
    assert read_by_app - set(example) == set()
    for secret in ("SECRET_KEY", "IDENTITY_KEY", "MAIL_PASSWORD", "SMS_GATEWAY_TOKEN"):
        assert example[secret] == "", secret
    assert "ZALO_ACCESS_TOKEN" in example and not example["ZALO_ACCESS_TOKEN"]
    # What the file sets is readable as it stands (a typo would stop the service).
    cfg.from_environment({k: v for k, v in example.items() if v})
