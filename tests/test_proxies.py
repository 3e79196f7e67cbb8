"""TRUSTED_PROXIES (issue 13, finding 6): behind N reverse proxies the client's address is
the N-th entry of X-Forwarded-For from the right, believed that far and no further; with
0 (the default) X-Forwarded-For is ignored. The rate limits count by that address."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import TEST_SECRET

from feedback import config as cfg
from feedback import create_app

PROXY = {"REMOTE_ADDR": "127.0.0.1"}  # nginx on the same host


def _post(client: FlaskClient, forwarded_for: str | None) -> int:
    """A look-up with nothing filled in: refused (422), and counted against the look-up
    limit, which every guess must be (a failed submission is no longer counted)."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post("/tra-cuu", data={}, headers=headers, environ_base=PROXY).status_code


class TestNoTrustedProxy:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"RATELIMIT_ENABLED": True, "RATELIMIT_LOOKUP": "2/minute"}

    def test_forwarded_for_is_ignored_by_default(self, app: Flask, client: FlaskClient) -> None:
        assert app.config["TRUSTED_PROXIES"] == 0
        # Two "clients" that differ only by the header they wrote share the peer's budget:
        # a flooder cannot buy a fresh limit per request by inventing addresses.
        assert _post(client, "203.0.113.1") == 422
        assert _post(client, "203.0.113.2") == 422
        assert _post(client, "203.0.113.3") == 429


class TestOneTrustedProxy:
    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"RATELIMIT_ENABLED": True, "RATELIMIT_LOOKUP": "2/minute", "TRUSTED_PROXIES": 1}

    def test_each_client_behind_the_proxy_has_its_own_limit(self, client: FlaskClient) -> None:
        assert [_post(client, "203.0.113.1") for _ in range(3)] == [422, 422, 429]
        # Another citizen behind the same proxy is not refused for the first one's posts.
        assert _post(client, "203.0.113.2") == 422

    def test_a_client_cannot_spoof_past_the_trusted_hop(self, client: FlaskClient) -> None:
        # nginx appends the peer it saw ($proxy_add_x_forwarded_for): "spoofed, real".
        # Only the last entry is believed, so inventing the first buys nothing.
        assert _post(client, "203.0.113.7") == 422
        assert _post(client, "198.51.100.1, 203.0.113.7") == 422
        assert _post(client, "198.51.100.2, 203.0.113.7") == 429
        assert _post(client, "198.51.100.1") == 422  # that address is untouched

    def test_the_host_is_never_taken_from_a_header(self, app: Flask) -> None:
        from werkzeug.middleware.proxy_fix import ProxyFix

        fix = app.wsgi_app
        assert isinstance(fix, ProxyFix)
        assert (fix.x_for, fix.x_proto, fix.x_host, fix.x_port, fix.x_prefix) == (1, 1, 0, 0, 0)

        @app.get("/_where")
        def where() -> Any:
            from flask import request

            return {"addr": request.remote_addr, "host": request.host, "scheme": request.scheme}

        where.is_public = True  # type: ignore[attr-defined]
        seen = app.test_client().get(
            "/_where",
            environ_base=PROXY,
            headers={
                "X-Forwarded-For": "198.51.100.9, 203.0.113.5",
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Host": "evil.example",
            },
        )
        assert seen.get_json() == {"addr": "203.0.113.5", "host": "localhost", "scheme": "https"}


@pytest.mark.parametrize("value", ["1", " 2 ", "0"])
def test_the_setting_is_read_from_the_environment(value: str) -> None:
    assert cfg.from_environment({"TRUSTED_PROXIES": value})["TRUSTED_PROXIES"] == int(value)
    assert cfg.defaults("/tmp/x")["TRUSTED_PROXIES"] == 0


@pytest.mark.parametrize("value", ["-1", "yes", "1.5", "6", "nginx"])
def test_a_wrong_count_refuses_to_start(value: str) -> None:
    with pytest.raises(RuntimeError, match="TRUSTED_PROXIES"):
        cfg.from_environment({"TRUSTED_PROXIES": value})


def test_a_wrong_count_in_the_instance_config_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="TRUSTED_PROXIES"):
        create_app(
            {
                "TESTING": True,
                "SECRET_KEY": TEST_SECRET,
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite'}",
                "TRUSTED_PROXIES": -1,
            }
        )
