"""The matrix and the readers: synced, drifted and deploying cells, promotions, history."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient
from kits.console_state import ConsoleState, merge_promotion, open_promotion

from model_deploy.store.protocol import holding_lock
from services.console.gitlog import branch_deployment, manifest_log
from services.console.matrix import build_matrix
from services.console.promotions import env_history, open_promotions
from services.console.readers import ConsoleContext, Readers


def _cell_html(html: str, key: str) -> str:
    match = re.search(rf'<td data-key="{re.escape(key)}">(.*?)</td>', html, re.DOTALL)
    assert match, f"no cell {key}"
    return match.group(1)


def test_matrix_states_synced_drifted_deploying(context: ConsoleContext) -> None:
    readers = Readers(context)
    with holding_lock(readers.deployer.store, "prod/trip_fare", operation="apply", ttl=60):
        matrix = build_matrix(Readers(context))
    states = {key: cell.state for key, cell in matrix.cells.items()}
    assert states[("trip_fare", "dev")] == "drifted"
    assert states[("trip_fare", "prod")] == "deploying"
    assert states[("driver_ranking", "dev")] == "synced"
    assert states[("driver_ranking", "prod")] == "synced"
    assert matrix.counts() == {"synced": 4, "drifted": 1, "deploying": 1}
    dev = matrix.cells[("trip_fare", "dev")]
    assert dev.desired == "trip_fare:3"
    assert dev.serving == "trip_fare:2"
    assert any("trip_fare:2" in line for line in dev.drift)
    assert matrix.environments == ["dev", "staging", "prod"]


def test_matrix_page_shows_each_state(client: TestClient, context: ConsoleContext) -> None:
    html = client.get("/").text
    assert 'badge-drifted">drifted' in _cell_html(html, "dev/trip_fare")
    assert "serving trip_fare:2" in _cell_html(html, "dev/trip_fare")
    assert 'badge-synced">synced' in _cell_html(html, "prod/driver_ranking")
    store = Readers(context).deployer.store
    with holding_lock(store, "staging/trip_fare", operation="apply", ttl=60):
        html = client.get("/").text
    assert 'badge-deploying">deploying' in _cell_html(html, "staging/trip_fare")
    env = client.get("/environments/dev").text
    assert "Reconcile: <code>slipway deploy apply dev/trip_fare</code>" in env
    assert "Takes versions from" not in env, "dev is the first environment"
    staging = client.get("/environments/staging").text
    assert "dev names v3: <code>slipway promote --to staging --from dev --model trip_fare" in (
        staging
    )


def test_unhealthy_is_shown(state: ConsoleState, target, client: TestClient) -> None:
    target.unhealthy.add("prod/driver_ranking")
    cell = _cell_html(client.get("/").text, "prod/driver_ranking")
    assert "unhealthy" in cell


def test_last_promotion_names_the_pr_commit_and_who_merged(
    state: ConsoleState, context: ConsoleContext, target
) -> None:
    number = open_promotion(state, key="staging/trip_fare", version=3, plan="## plan")
    pending = build_matrix(Readers(context)).cells[("trip_fare", "staging")]
    assert pending.pending == number
    sha = merge_promotion(state, number=number)
    target.serving["staging/trip_fare"] = 3
    cell = build_matrix(Readers(context)).cells[("trip_fare", "staging")]
    assert cell.pending is None
    assert cell.promotion is not None
    assert cell.promotion.pr_number == number
    assert cell.promotion.sha == sha
    assert cell.promotion.author == "Dev"
    assert cell.promotion.kind == "promote"
    other = build_matrix(Readers(context)).cells[("trip_fare", "prod")]
    assert other.promotion is not None
    assert other.promotion.pr_number is None


def test_open_promotions_read_plan_statuses_and_approvals(
    state: ConsoleState, context: ConsoleContext
) -> None:
    number = open_promotion(
        state, key="prod/driver_ranking", version=2, plan="| a | b |\n|---|---|\n| 1 | 2 |"
    )
    [found] = open_promotions(Readers(context))
    assert (found.pr.number, found.kind, found.key) == (number, "promote", "prod/driver_ranking")
    assert found.plan is not None
    assert "<table>" in found.plan
    assert {s.context for s in found.statuses} == {"slipway/plan", "slipway/policy"}
    assert found.approvals == []
    assert found.url is None, "a local forge's PR has no web address"


def test_history_merges_git_and_deploy_records_with_a_way_back(
    state: ConsoleState, context: ConsoleContext
) -> None:
    number = open_promotion(state, key="staging/trip_fare", version=3, plan="p")
    merge_promotion(state, number=number)
    history = env_history(Readers(context), "staging")
    sources = {e.source for e in history.entries}
    assert sources == {"git", "deploy"}
    merged = [e for e in history.entries if e.pr_number == number]
    assert merged
    assert merged[0].key == "staging/trip_fare"
    assert merged[0].who == "Dev"
    reverts = [e.revert for e in history.entries if e.revert]
    assert "slipway ci rollback staging/trip_fare --to 1" in reverts
    times = [e.at for e in history.entries]
    assert times == sorted(times, reverse=True)


def test_manifest_log_of_a_folder_that_is_no_repository(tmp_path) -> None:
    assert manifest_log(repo_dir=tmp_path, ref="main", manifests_dir="x") == []


def test_branch_deployment() -> None:
    assert branch_deployment("slipway/promote-prod/driver_ranking") == (
        "promote",
        "prod/driver_ranking",
    )
    assert branch_deployment("slipway/rollback-dev/m") == ("rollback", "dev/m")
    assert branch_deployment("feature/x") is None


def test_the_newest_monitor_summary_is_shown(
    state: ConsoleState, client: TestClient, tmp_path
) -> None:
    runs = tmp_path / "monitor" / "runs" / "prod" / "trip_fare"
    for stamp, status in (("20261101T000000Z", "ok"), ("20261102T000000Z", "violations")):
        (runs / stamp).mkdir(parents=True)
        (runs / stamp / "summary.json").write_text(
            json.dumps(
                {
                    "status": status,
                    "violations": [{"feature_name": "conv_rate"}],
                    "drifted_columns": ["conv_rate"],
                    "window": {"last_inference_time": "2026-11-02T00:00:00+00:00"},
                }
            )
        )
    cell = _cell_html(client.get("/").text, "prod/trip_fare")
    assert "monitor: violations, data drift, 1 violations" in cell
    assert "last request 2026-11-02 00:00 UTC" in cell
    assert "monitor:" not in _cell_html(client.get("/").text, "dev/trip_fare")


def test_other_slipway_prs_are_listed_apart(state: ConsoleState, client: TestClient) -> None:
    from kits.console_state import git

    from ci.forge.local import LocalForge

    git(state.repo, "checkout", "-q", "-b", "slipway/retrain-trip_fare")
    (state.repo / "RETRAIN.md").write_text("why\n")
    git(state.repo, "add", "RETRAIN.md")
    git(state.repo, "commit", "-q", "-m", "retrain")
    git(state.repo, "checkout", "-q", "main")
    LocalForge(repo=state.repo).create_pr(
        head="slipway/retrain-trip_fare", base="main", title="Retrain trip_fare", body="b",
        labels=(),
    )  # fmt: skip
    html = client.get("/promotions").text
    assert "No open promotion, rollback or revert pull request." in html
    assert "#1 Retrain trip_fare (<code>slipway/retrain-trip_fare</code>)" in html
