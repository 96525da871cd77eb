"""``report-deploy`` acts on the apply's outcome: faults 1 and 2 of issue 11, on the local forge.

Fault 1: a refused or locked apply (a freeze, a lock conflict) used to count as a failed
deploy and reject a healthy version. Fault 2: a config change that failed got the model
blamed, and its revert reverted only ``model:``, so the known-good version failed and was
rejected next. Failure paths first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from ci_support import MANIFESTS_DIR, FakeRegistry, make_git_repo, planner

from ci.deployments import DeployReport, report_deploy
from ci.failure_issue import FAILED_LABEL, PAGE_LABEL
from ci.forge.local import LocalForge
from ci.forge.records import UNPROTECTED
from ci.outcome import ApplyOutcome
from ci.planning import Planner
from ci.promote import PromotionRequest, promote
from model_build.registry.protocol import ApprovalStatus
from model_deploy.status import EnvStatus

STAGING = f"{MANIFESTS_DIR}/staging/driver_ranking.yaml"
V1, V2 = "driver_ranking:1", "driver_ranking:2"


@dataclass
class World:
    forge: LocalForge
    registry: FakeRegistry
    planner: Planner
    serving: list[EnvStatus]
    first: tuple[int, str] = (0, "")

    def merge_promotion(self, **request: object) -> tuple[int, str]:
        result = promote(
            PromotionRequest(**{"env": "staging", "model": "driver_ranking", **request}),  # type: ignore[arg-type]
            forge=self.forge,
            registries=self.registry.opener(),
            planner=self.planner,
        )
        assert result.pr is not None
        return result.pr.number, self.forge.merge_pr(number=result.pr.number, message="merge")

    def report(self, *, number: int, sha: str, outcome: ApplyOutcome | None,
               result: str | None = None) -> DeployReport:  # fmt: skip
        return report_deploy(
            forge=self.forge,
            env="staging/driver_ranking",
            sha=sha,
            result=result,  # type: ignore[arg-type]
            outcome=outcome,
            pr_number=number,
            log_url="https://ci.example/run/9",
            registries=self.registry.opener(),
            planner=self.planner,
            manifests_dir=MANIFESTS_DIR,
            base="main",
            serving=lambda: list(self.serving),
        )

    def status(self, version: int) -> ApprovalStatus:
        return self.registry.get(model_name="driver_ranking", version=version).status


@pytest.fixture
def world(tmp_path: Path, registry: FakeRegistry) -> World:
    repo = make_git_repo(tmp_path / "repo")
    world = World(
        LocalForge(repo=repo, protection=UNPROTECTED), registry, planner(tmp_path, registry), []
    )
    world.first = world.merge_promotion(source_env="dev")  # staging serves driver_ranking:1
    return world


def failed(cause: str | None, *, outcome: str = "rolled-back") -> ApplyOutcome:
    return ApplyOutcome.model_validate(
        {
            "outcome": outcome,
            "cause": cause,
            "desired": V2,
            "previously_serving": V1,
            "now_serving": V1 if outcome == "rolled-back" else None,
            "reasons": ["smoke test `engaged driver`: probability 0.91 is below 0.99"],
        }
    )


@pytest.mark.parametrize(
    ("outcome", "state"),
    [("refused", "error"), ("locked", "inactive")],
)
def test_fault1_a_refused_or_locked_apply_rejects_nothing_and_opens_no_issue(
    world: World, outcome: str, state: str
) -> None:
    number, sha = world.merge_promotion(version="2")
    reason = "staging is frozen until 2027-01-04 (end-of-year change freeze)."
    report = world.report(
        number=number,
        sha=sha,
        outcome=ApplyOutcome.model_validate(
            {"outcome": outcome, "desired": V2, "now_serving": V1, "reasons": [reason]}
        ),
    )
    assert [s.state for s in report.added] == ["in_progress", state]
    assert reason.rstrip(".") in report.added[-1].description
    assert (world.status(1), world.status(2)) == (ApprovalStatus.APPROVED,) * 2
    assert not report.rejected
    assert report.revert is None
    assert report.issue is None
    assert world.forge.list_issues() == [], "no issue spam"
    assert [p.number for p in world.forge.list_prs(state="open")] == []
    [comment] = [c.body for c in world.forge.list_comments(number=number)]
    assert "Nothing was deployed and no version was rejected" in comment


def test_fault1_report_deploy_never_rejects_a_version_serving_healthily_anywhere(
    world: World,
) -> None:
    number, sha = world.merge_promotion(version="2")
    world.serving = [
        EnvStatus(env="dev/driver_ranking", serving_ref=V2, healthy=True, in_sync=True),
        EnvStatus(env="staging/driver_ranking", serving_ref=V1, healthy=True),
    ]
    report = world.report(number=number, sha=sha, outcome=failed("model"))
    assert not report.rejected
    assert "serves healthily in dev" in report.rejection
    assert world.status(2) == ApprovalStatus.APPROVED
    assert report.issue is not None
    assert "not rejected (driver_ranking:2 serves healthily in dev" in report.issue.body

    world.serving = [
        EnvStatus(env="dev/driver_ranking", error="cannot reach the dev endpoint"),
        EnvStatus(env="staging/driver_ranking", error="cannot reach the staging endpoint"),
    ]
    first_number, first_sha = world.first
    unknown = world.report(
        number=first_number,
        sha=first_sha,
        outcome=failed("model").model_copy(update={"desired": V1}),
    )
    assert not unknown.rejected, "dev's manifest names driver_ranking:1 and dev is unchecked"
    assert "named by the manifest of dev" in unknown.rejection
    assert world.status(1) == ApprovalStatus.APPROVED


def test_only_the_version_the_deployer_blames_is_rejected(world: World) -> None:
    number, sha = world.merge_promotion(version="2")
    other = failed("model").model_copy(update={"rejects": V1})
    report = world.report(number=number, sha=sha, outcome=other)
    assert not report.rejected
    assert "blames driver_ranking:1, not driver_ranking:2" in report.rejection
    assert (world.status(1), world.status(2)) == (ApprovalStatus.APPROVED,) * 2


def test_a_model_failure_serving_nowhere_rejects_it(world: World) -> None:
    number, sha = world.merge_promotion(version="2")
    world.serving = [EnvStatus(env="staging/driver_ranking", serving_ref=V1, healthy=True)]
    report = world.report(number=number, sha=sha, outcome=failed("model"))
    assert report.rejected
    assert world.status(2) == ApprovalStatus.REJECTED
    assert world.status(1) == ApprovalStatus.APPROVED
    assert (
        "blamed the model"
        in world.registry.get(model_name="driver_ranking", version=2).status_reason
    )


def test_fault2_a_config_failure_reverts_every_field_of_the_merge_and_rejects_nothing(
    world: World,
) -> None:
    before = world.forge.read_file(path=STAGING, ref="main")
    assert before is not None
    tightened = before.replace("version: 1", "version: 2").replace(
        "probability: {min: 0.0, max: 1.0}", "probability: {min: 0.99, max: 1.0}"
    )
    world.forge.push_file(
        branch="tighten", base="main", path=STAGING, content=tightened, message="m", reset=False
    )
    pr = world.forge.create_pr(
        head="tighten", base="main", title="v2 and a stricter smoke test", body="", labels=()
    )
    sha = world.forge.merge_pr(number=pr.number, message="merge tighten")
    report = world.report(number=pr.number, sha=sha, outcome=failed("config"))
    assert not report.rejected
    assert "cause is config" in report.rejection
    assert world.status(2) == ApprovalStatus.APPROVED
    assert report.revert is not None
    assert report.revert.pr is not None
    assert world.forge.read_file(path=STAGING, ref=report.revert.branch) == before, (
        "the revert puts back every field: the model AND the smoke test"
    )
    assert report.revert.pr.title == "Revert staging/driver_ranking to driver_ranking:1"
    assert report.issue is not None
    assert report.issue.title == "Deploy of driver_ranking:2 to staging/driver_ranking failed"

    again = world.report(number=pr.number, sha=sha, outcome=failed("config"))
    assert again.revert is not None
    assert again.revert.pr == report.revert.pr, "re-running adopts the revert pull request"
    assert not again.revert.changed
    assert len(world.forge.list_issues()) == 1


def test_fault2_repeated_failures_never_cascade_into_rejecting_earlier_versions(
    world: World,
) -> None:
    number, sha = world.merge_promotion(version="2")
    first = world.report(number=number, sha=sha, outcome=failed("model"))
    assert first.rejected
    assert first.revert is not None
    assert first.revert.pr is not None
    revert_sha = world.forge.merge_pr(number=first.revert.pr.number, message="merge revert")
    again = world.report(
        number=first.revert.pr.number,
        sha=revert_sha,
        outcome=failed("model").model_copy(update={"desired": V1}),
    )
    assert not again.rejected
    assert "restored driver_ranking:1" in again.rejection
    assert world.status(1) == ApprovalStatus.APPROVED, "the known-good version stays Approved"
    assert again.revert is None, "no revert of the revert"


def test_a_failed_rollback_pages(world: World) -> None:
    number, sha = world.merge_promotion(version="2")
    report = world.report(
        number=number, sha=sha, outcome=failed("config", outcome="rollback-failed")
    )
    assert report.added[-1].state == "error"
    assert report.paged
    assert report.issue is not None
    assert PAGE_LABEL in report.issue.labels
    assert FAILED_LABEL in report.issue.labels
    assert report.issue.title.startswith("🚨 Rollback of staging/driver_ranking failed")
    assert "needs a human" in report.issue.body


def test_an_infrastructure_failure_reverts_nothing(world: World) -> None:
    number, sha = world.merge_promotion(version="2")
    report = world.report(number=number, sha=sha, outcome=failed("infrastructure"))
    assert report.revert is None
    assert not report.rejected
    assert any("infrastructure failed" in note for note in report.notes)
    assert report.issue is not None


def test_a_bare_failure_result_has_no_cause_and_rejects_nothing(world: World) -> None:
    number, sha = world.merge_promotion(version="2")
    report = world.report(number=number, sha=sha, outcome=None, result="failure")
    assert [s.state for s in report.added] == ["in_progress", "failure"]
    assert not report.rejected
    assert "cause is unknown" in report.rejection
    assert report.revert is not None, "git still goes back to what serves"


def test_the_outcome_is_read_from_the_deployers_json_and_the_first_draft_names() -> None:
    from ci.errors import CiError
    from ci.outcome import parse_outcome

    theirs = parse_outcome(
        '{"env": "staging", "action": "apply", "outcome": "rollback-failed", "cause": "model",'
        ' "desired": "m:2", "previously_serving": "m:1", "now_serving": null, "reasons": ["x"],'
        ' "exit_code": 6, "finished_at": "2026-01-01T00:00:00Z"}',
        source="apply.json",
    )
    assert (theirs.outcome, theirs.desired, theirs.previously_serving) == (
        "rollback-failed",
        "m:2",
        "m:1",
    )
    assert theirs.rollback_failed
    assert theirs.model_at_fault
    draft = parse_outcome(
        '{"outcome": "failed-rolled-back", "cause": "config", "desired_version": "m:2",'
        ' "serving_version": "m:1", "reasons": []}',
        source="apply.json",
    )
    assert (draft.outcome, draft.now_serving, draft.model_at_fault) == ("rolled-back", "m:1", False)
    with pytest.raises(CiError, match=r"apply\.json: not `slipway deploy apply --format json`"):
        parse_outcome('{"outcome": "exploded"}', source="apply.json")


def test_the_deployers_own_outcome_document_is_read_as_is() -> None:
    from datetime import UTC, datetime

    from ci.outcome import parse_outcome
    from model_deploy.outcome import DeployOutcome

    printed = DeployOutcome(
        env="staging", action="apply", outcome="rolled-back", cause="model", message="m",
        desired=V2, previously_serving=V1, now_serving=V1, reasons=["smoke"],
        finished_at=datetime(2026, 3, 1, tzinfo=UTC),
    ).model_dump_json()  # fmt: skip
    read = parse_outcome(printed, source="apply.json")
    assert (read.outcome, read.cause, read.rejects, read.now_serving) == (
        "rolled-back",
        "model",
        V2,
        V1,
    )
    assert read.blames(V2)
    assert not read.blames(V1)
