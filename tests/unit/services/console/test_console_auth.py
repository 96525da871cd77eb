"""Token auth beyond localhost, secrets never rendered, error pages that leak nothing."""

from __future__ import annotations

import pytest
from console_support import TOKEN, make_context
from fastapi.testclient import TestClient
from kits.console_state import ConsoleState, open_promotion

import services.console.routes as routes
from foundation.errors import SlipwayError
from services.console.app import create_app
from services.console.auth import token_matches
from services.console.errors import ConsoleConfigError
from services.console.settings import ConsoleSettings, check_bind, is_local
from slipway.cli.app import run

PAGES = [
    "/",
    "/environments/dev",
    "/promotions",
    "/models",
    "/models/trip_fare",
    "/models/trip_fare/versions/2",
    "/models/trip_fare/compare?a=1&b=3",
    "/features",
]


@pytest.fixture
def guarded(state: ConsoleState, target) -> TestClient:
    app = create_app(make_context(target, token=TOKEN), require_token=True)
    return TestClient(app, raise_server_exceptions=False)


def test_non_local_bind_without_token_is_refused(state: ConsoleState, target) -> None:
    assert is_local("127.0.0.1")
    assert is_local("localhost")
    assert is_local("::1")
    assert not is_local("0.0.0.0")
    assert not is_local("10.1.2.3")
    with pytest.raises(ConsoleConfigError, match="SLIPWAY_CONSOLE_TOKEN"):
        check_bind("0.0.0.0", ConsoleSettings())
    check_bind("127.0.0.1", ConsoleSettings())
    check_bind("0.0.0.0", ConsoleSettings(token=TOKEN))
    with pytest.raises(ConsoleConfigError):
        create_app(make_context(target), require_token=True)


def test_cli_refuses_a_public_bind_without_token(state: ConsoleState, capsys) -> None:
    assert run(["console", "--host", "0.0.0.0", "--port", "1"]) == 1
    err = capsys.readouterr().err
    assert "SLIPWAY_CONSOLE_TOKEN" in err
    assert len(err.strip().splitlines()) == 1


def test_every_page_needs_the_token(guarded: TestClient) -> None:
    for path in PAGES:
        refused = guarded.get(path, headers={"accept": "application/json"})
        assert refused.status_code == 401, path
        assert "valid token" in refused.text
        browser = guarded.get(path, headers={"accept": "text/html"}, follow_redirects=False)
        assert browser.status_code == 303
        assert browser.headers["location"] == "/login"
        wrong = guarded.get(path, headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
    assert guarded.get("/healthz").text == "ok"
    assert guarded.get("/static/console.css").status_code == 200
    assert guarded.get("/login").status_code == 200


def test_bearer_and_cookie_open_the_pages_and_the_token_is_never_rendered(
    state: ConsoleState, guarded: TestClient
) -> None:
    open_promotion(state, key="prod/trip_fare", version=2, plan=f"plan without {TOKEN[:3]}")
    bearer = {"authorization": f"Bearer {TOKEN}"}
    seen = []
    for path in [*PAGES, "/promotions/1", "/nope", "/models/nope"]:
        answer = guarded.get(path, headers=bearer)
        assert answer.status_code in (200, 404), (path, answer.status_code)
        seen.append(answer.text)
    failed = guarded.post("/login", content=f"token={TOKEN}x")
    assert failed.status_code == 401
    seen.append(failed.text)
    login = guarded.post(
        "/login", content=f"token={TOKEN}", follow_redirects=False,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert login.status_code == 303
    cookie = login.headers["set-cookie"]
    assert "httponly" in cookie.lower()
    assert "samesite=strict" in cookie.lower()
    assert guarded.get("/").status_code == 200, "the cookie opens the pages"
    assert all(TOKEN not in text for text in seen)
    assert "script-src 'self'" in guarded.get("/").headers["content-security-policy"]


def test_token_comparison() -> None:
    assert token_matches(TOKEN, TOKEN)
    assert not token_matches(None, TOKEN)
    assert not token_matches("", TOKEN)
    assert not token_matches(TOKEN[:-1], TOKEN)
    assert TOKEN not in repr(ConsoleSettings(token=TOKEN))


def test_404_pages_say_what_is_missing_and_nothing_else(client: TestClient) -> None:
    for path, text in [
        ("/nope", "no such page"),
        ("/environments/qa", "no environment named"),
        ("/models/ghost", "no model named"),
        ("/models/..%2F..%2Fetc", "no "),
        ("/models/trip_fare/versions/99", "trip_fare:99 is not in the registry"),
        ("/promotions/7", "no open promotion pull request #7"),
        ("/runs/..%2F..%2F/plots/x.png", "no"),
    ]:
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert text in answer.text
        assert "Traceback" not in answer.text
        assert "/tmp/" not in answer.text
    bad = client.get("/models/trip_fare/compare?a=x&b=1")
    assert bad.status_code == 400
    assert "invalid parameter: a" in bad.text
    assert client.post("/").status_code == 405


def test_500_and_502_pages_leak_nothing(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("internal detail /etc/secret-path password=hunter2")

    monkeypatch.setattr(routes, "build_matrix", crash)
    answer = client.get("/")
    assert answer.status_code == 500
    assert "internal error" in answer.text
    for leak in ("hunter2", "/etc/secret-path", "RuntimeError", "Traceback"):
        assert leak not in answer.text

    def backing(*args: object, **kwargs: object) -> None:
        raise SlipwayError("s3://bucket/key: access denied for AKIAXXXX")

    monkeypatch.setattr(routes, "build_matrix", backing)
    answer = client.get("/")
    assert answer.status_code == 502
    assert "SlipwayError" in answer.text
    assert "AKIA" not in answer.text
    assert "s3://" not in answer.text


def test_local_console_needs_no_login(client: TestClient) -> None:
    assert "no token is needed" in client.get("/login").text
    answer = client.post("/login", content="token=x", follow_redirects=False)
    assert answer.status_code == 303
    assert "set-cookie" not in answer.headers
