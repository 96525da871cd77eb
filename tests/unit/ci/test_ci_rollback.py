"""``slipway ci rollback``: fault 8 of issue 11, a rollback by pull request on a forge.

``deploy rollback`` used to flip between the last two versions on the endpoint, behind git's
back. On a forge it opens the rollback pull request instead (any version back), and merging
it is what deploys it. Failure paths first.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from ci_support import MANIFESTS_DIR, FakeRegistry, git, make_git_repo, planner
from typer.testing import CliRunner

import ci.context
from ci.errors import PromotionError
from ci.forge.local import LocalForge
from ci.forge.records import UNPROTECTED
from ci.promote import PromotionRequest, promote
from ci.revert import restores
from ci.rollback import RollbackText, history_rollback, propose_rollback
from model_deploy.errors import NoPreviousDeploymentError
from slipway.cli.ci import ci_app

STAGING = f"{MANIFESTS_DIR}/staging/driver_ranking.yaml"
STAGING_KEY = "staging/driver_ranking"


@pytest.fixture
def forge(tmp_path: Path, registry: FakeRegistry) -> LocalForge:
    """Staging served 1, then 2 (both merged); the registry has 1, 2 Approved and 3 Rejected."""
    local = LocalForge(repo=make_git_repo(tmp_path / "repo"), protection=UNPROTECTED)
    for version in ("1", "2"):
        result = promote(
            PromotionRequest(env="staging", model=DR, version=version), forge=local,
            registries=registry.opener(), planner=planner(tmp_path, registry),
        )  # fmt: skip
        assert result.pr is not None
        local.merge_pr(number=result.pr.number, message=f"merge {version}")
    return local


DR = "driver_ranking"


def nothing_in_history(env: str, current: str, version: int | None) -> RollbackText:
    raise NoPreviousDeploymentError(f"{env}: no earlier successful deployment in the history")


def test_fault8_nothing_to_roll_back_to_is_one_line(
    forge: LocalForge, registry: FakeRegistry, tmp_path: Path
) -> None:
    with pytest.raises(PromotionError, match="nothing to roll back to"):
        propose_rollback(
            forge, env=STAGING_KEY, to_version=None, base="main", registries=registry.opener(),
            planner=planner(tmp_path, registry), manifests_dir=MANIFESTS_DIR,
            source=nothing_in_history, command="slipway ci rollback staging",
        )  # fmt: skip
    with pytest.raises(PromotionError, match="no manifest for 'qa'"):
        propose_rollback(
            forge, env="qa", to_version=1, base="main", registries=registry.opener(),
            planner=planner(tmp_path, registry), manifests_dir=MANIFESTS_DIR,
            source=nothing_in_history, command="slipway ci rollback qa",
        )  # fmt: skip
    assert forge.list_prs(state="open") == []


def test_fault8_a_rollback_is_a_pull_request_from_the_history_not_an_endpoint_change(
    forge: LocalForge, registry: FakeRegistry, tmp_path: Path
) -> None:
    main = git(Path(forge.where), "rev-parse", "main")
    current = forge.read_file(path=STAGING, ref="main")
    assert current is not None
    earlier = current.replace("version: 2", "version: 1").replace(
        "bake_minutes: 2", "bake_minutes: 1"
    )
    asked: list[tuple[str, int | None]] = []

    def from_history(env: str, text: str, version: int | None) -> RollbackText:
        asked.append((env, version))
        assert text == current, "the rollback starts from the base branch's manifest"
        return RollbackText(earlier, "the manifest of its deployment in the history")

    result = propose_rollback(
        forge, env=STAGING_KEY, to_version=1, base="main", registries=registry.opener(),
        planner=planner(tmp_path, registry), manifests_dir=MANIFESTS_DIR, source=from_history,
        command="slipway ci rollback staging --to 1",
    )  # fmt: skip
    assert asked == [("staging/driver_ranking", 1)]
    assert result.pr is not None
    assert result.pr.head == "slipway/rollback-staging/driver_ranking"
    assert result.pr.title == "Roll staging/driver_ranking back to driver_ranking:1"
    assert set(result.pr.labels) == {"slipway:rollback", "env:staging/driver_ranking"}
    assert forge.read_file(path=STAGING, ref=result.branch) == earlier, "every field goes back"
    assert git(Path(forge.where), "rev-parse", "main") == main, "main is only changed by merging"
    assert restores(result.pr), "a failed deploy of it never rejects the version it restores"
    again = propose_rollback(
        forge, env=STAGING_KEY, to_version=1, base="main", registries=registry.opener(),
        planner=planner(tmp_path, registry), manifests_dir=MANIFESTS_DIR, source=from_history,
        command="slipway ci rollback staging --to 1",
    )  # fmt: skip
    assert again.pr == result.pr
    assert not again.changed


def test_fault8_without_history_the_version_asked_for_is_set_in_the_model_block(
    forge: LocalForge, registry: FakeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLIPWAY_DEPLOY_STATE_DIR", str(tmp_path / "empty-state"))
    result = propose_rollback(
        forge, env=STAGING_KEY, to_version=1, base="main", registries=registry.opener(),
        planner=planner(tmp_path, registry), manifests_dir=MANIFESTS_DIR,
        source=history_rollback(registries=registry.opener()),
        command="slipway ci rollback staging --to 1",
    )  # fmt: skip
    assert result.pr is not None
    text = forge.read_file(path=STAGING, ref=result.branch)
    assert text is not None
    assert "version: 1" in text
    assert "only `model:` set to driver_ranking:1" in result.pr.body


def test_fault8_the_cli_goes_back_two_versions_by_pull_request(
    forge: LocalForge, registry: FakeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ci.context, "registry_opener", registry.opener)
    monkeypatch.setenv("SLIPWAY_DEPLOY_STATE_DIR", str(tmp_path / "empty-state"))
    registry.add()  # 4: Approved
    latest = promote(
        PromotionRequest(env="staging", model=DR, version="4"), forge=forge,
        registries=registry.opener(), planner=planner(tmp_path, registry),
    )  # fmt: skip
    assert latest.pr is not None
    forge.merge_pr(number=latest.pr.number, message="merge 4")
    app = typer.Typer()
    app.add_typer(ci_app, name="ci")
    done = CliRunner().invoke(
        app,
        [
            "ci",
            "rollback",
            "staging/driver_ranking",
            "--to",
            "1",
            "--repo-dir",
            forge.where,
            "-f",
            "json",
        ],
    )
    assert done.exit_code == 0, (done.output, done.exception)
    doc = json.loads(done.output)
    assert doc["branch"] == "slipway/rollback-staging/driver_ranking"
    assert doc["model"] == "driver_ranking:1", "from 4 back past 2 to 1"
    assert forge.get_pr(number=doc["pr_number"]).head == "slipway/rollback-staging/driver_ranking"
