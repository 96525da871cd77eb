"""The runner's start-up promises: Feast is loaded by ``serve`` alone, without typeguard's
import-time instrumentation, and a port that cannot be bound is one config error."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

import pytest

from foundation.ports import LOOPBACK
from services.errors import ServerConfigError
from services.feature_server.runner import _listen

INSTRUMENTED = textwrap.dedent(
    """
    import sys
    {setup}
    import feast.feature_view as fv
    names = fv.FeatureView.__init__.__code__.co_names
    print("instrumented" if "typeguard._functions" in names else "plain")
    """
)


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.strip()


def test_importing_the_runner_and_the_package_loads_no_feast() -> None:
    code = (
        "import sys, services.feature_server, services.feature_server.runner, "
        "services.feature_server.__main__\n"
        "print(sorted(m for m in sys.modules if m == 'feast' or m.startswith('feast.')))"
    )
    assert _run(code) == "[]"


def test_feast_is_loaded_without_type_checks_by_the_server() -> None:
    setup = (
        "from services.feature_server.runner import without_feast_type_checks\n"
        "without_feast_type_checks()"
    )
    assert _run(INSTRUMENTED.format(setup=setup)) == "plain"


def test_without_type_checks_is_a_no_op_once_feast_is_loaded() -> None:
    """Feast's ``@typechecked`` recompiles at import by default (first line: what the server
    avoids); once Feast is loaded, turning the checks off changes nothing (second line)."""
    code = INSTRUMENTED.format(
        setup="import feast\n"
        "import feast.feature_view as fv\n"
        "names = fv.FeatureView.__init__.__code__.co_names\n"
        'print("instrumented" if "typeguard._functions" in names else "plain")\n'
        "from services.feature_server.runner import without_feast_type_checks\n"
        "without_feast_type_checks()\n"
        "import importlib, feast.feature_view\n"
        "importlib.reload(feast.feature_view)"
    )
    assert _run(code).splitlines() == ["instrumented", "instrumented"]


def test_a_port_in_use_is_one_config_error() -> None:
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(ServerConfigError, match=rf"^cannot listen on 127\.0\.0\.1:{port}: "):
            _listen(LOOPBACK, port, backlog=8)


def test_fewer_than_one_worker_is_refused() -> None:
    from services.feature_server.runner import serve
    from services.feature_server.settings import ServerSettings

    with pytest.raises(ServerConfigError, match="workers must be at least 1, got 0"):
        serve(settings=ServerSettings(), workers=0)
