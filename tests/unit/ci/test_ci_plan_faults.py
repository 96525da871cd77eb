"""Plans judged by the base branch's rules, with their owners: faults 3, 4 and 10 of issue 11.

Fault 3: a pull request pushing ``freeze_windows: []`` lifted the freeze that should block it.
Fault 4: there was no emergency path, and the drift issue advised an apply that could not
succeed. Fault 10: the body carried a second, stale plan. Failure paths first.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ci_support import MANIFESTS_DIR, FakeRegistry, make_git_repo, manifest_files, planner

from ci.comment import PlanCommentResult, comment_plan
from ci.deployments import report_deploy
from ci.drift import drift_issue
from ci.forge.local import LocalForge
from ci.forge.records import UNPROTECTED, PrEdit
from ci.outcome import ApplyOutcome
from ci.planning import Planner
from ci.promote import PromotionRequest, promote
from model_deploy.status import EnvStatus

DEV = f"{MANIFESTS_DIR}/dev/driver_ranking.yaml"
FROZEN = (
    "\nfreeze_windows:\n  - start: 2000-01-01T00:00:00Z\n    end: 2999-01-01T00:00:00Z\n"
    "    reason: always frozen in this test\n"
)
LATER = (
    "\nfreeze_windows:\n  - start: 2998-01-01T00:00:00Z\n    end: 2999-01-01T00:00:00Z\n"
    "    reason: a freeze far away\n"
)
OWNERS = (
    "*                                    @acme/maintainers\n"
    "/model_deploy/environments/          @acme/ml\n"
    "/model_deploy/policies/              @acme/release\n"
)

DR = "driver_ranking"


def forge_with(tmp_path: Path, *, dev_extra: str = "", owners: str | None = OWNERS) -> LocalForge:
    files = manifest_files()
    files[DEV] += dev_extra
    if owners is not None:
        files[".github/CODEOWNERS"] = owners
    return LocalForge(repo=make_git_repo(tmp_path / "repo", files), protection=UNPROTECTED)


def open_pr(
    forge: LocalForge, text: str, *, labels: tuple[str, ...] = ("env:dev/driver_ranking",)
) -> int:
    forge.push_file(branch="change", base="main", path=DEV, content=text, message="m", reset=False)
    return forge.create_pr(
        head="change", base="main", title="Change dev", body="", labels=labels
    ).number


def plan(forge: LocalForge, number: int, plans: Planner) -> PlanCommentResult:
    return comment_plan(forge=forge, number=number, planner=plans, manifests_dir=MANIFESTS_DIR)


def statuses(result: PlanCommentResult) -> dict[str, tuple[str, str]]:
    return {s.context: (s.state, s.description) for s in result.statuses}


def test_fault3_a_pull_request_cannot_lift_the_freeze_that_blocks_it(
    tmp_path: Path, registry: FakeRegistry
) -> None:
    forge = forge_with(tmp_path, dev_extra=FROZEN)
    base = forge.read_file(path=DEV, ref="main")
    assert base is not None
    lifted = base.replace("version: 1", "version: 2").replace(FROZEN, "\nfreeze_windows: []\n")
    number = open_pr(forge, lifted)
    result = plan(forge, number, planner(tmp_path, registry))
    state, description = statuses(result)["slipway/policy"]
    assert state == "failure", description
    assert "dev/driver_ranking: freeze-window (dev is frozen until 2999-01-01" in description
    assert result.plans["dev/driver_ranking"].blocked
    [check] = result.governance.checks
    assert check.path == DEV
    assert check.why == ("policy change: freeze_windows",)
    assert check.owners == ("@acme/ml",)
    comment = result.comments["dev/driver_ranking"].comments[0].body
    assert "Policies read from:** the base branch" in comment
    assert "**Change:** model promotion + policy change" in comment
    assert "#### Policy fields that change (read from the base branch)" in comment


def test_a_policy_change_needs_an_owner_approval_of_the_current_head(
    tmp_path: Path, registry: FakeRegistry
) -> None:
    forge = forge_with(tmp_path)
    base = forge.read_file(path=DEV, ref="main")
    assert base is not None
    number = open_pr(forge, base + LATER)
    plans = planner(tmp_path, registry)
    first = statuses(plan(forge, number, plans))["slipway/policy"]
    assert first[0] == "failure"
    assert "Needs owner approval" in first[1]
    assert "@acme/ml" in first[1]
    forge.approve_pr(number=number, reviewer="bob")
    forge.set_team(team="acme/ml", members=["carol"])
    assert statuses(plan(forge, number, plans))["slipway/policy"][0] == "failure", "bob: no owner"
    forge.approve_pr(number=number, reviewer="carol")
    approved = plan(forge, number, plans)
    assert statuses(approved)["slipway/policy"][0] == "success"
    assert approved.governance.checks[0].approved_by == ("carol",)
    forge.push_file(
        branch="change", base="main", path=DEV, content=base + LATER + "# again\n", message="m",
        reset=False,
    )  # fmt: skip
    pushed = statuses(plan(forge, number, plans))["slipway/policy"]
    assert pushed[0] == "failure", "an approval given before the last push does not count"


def test_a_change_to_the_policy_code_needs_its_owners_even_without_a_manifest(
    tmp_path: Path, registry: FakeRegistry
) -> None:
    forge = forge_with(tmp_path)
    forge.push_file(
        branch="rules", base="main", path="model_deploy/policies/config.py",
        content="UPSTREAM = {}\n", message="m", reset=False,
    )  # fmt: skip
    number = forge.create_pr(head="rules", base="main", title="t", body="", labels=()).number
    result = plan(forge, number, planner(tmp_path, registry))
    assert result.plans == {}
    assert statuses(result)["slipway/plan"][0] == "success"
    state, description = statuses(result)["slipway/policy"]
    assert state == "failure"
    assert "model_deploy/policies/config.py" in description
    assert "@acme/release" in description
    assert "changes the rules plans are judged by" in result.comments["owners"].comments[0].body


def test_fault4_an_emergency_passes_a_freeze_only_with_the_owners_approval(
    tmp_path: Path, registry: FakeRegistry
) -> None:
    forge = forge_with(tmp_path, dev_extra=FROZEN)
    base = forge.read_file(path=DEV, ref="main")
    assert base is not None
    number = open_pr(
        forge,
        base.replace("version: 1", "version: 2"),
        labels=("env:dev/driver_ranking", "emergency"),
    )
    plans = planner(tmp_path, registry)
    waiting = plan(forge, number, plans)
    assert not waiting.plans["dev/driver_ranking"].blocked, "the freeze is waived for the emergency"
    assert waiting.plans["dev/driver_ranking"].emergency
    state, description = statuses(waiting)["slipway/policy"]
    assert state == "failure"
    assert "emergency change" in description
    assert (
        "Emergency:** label `emergency`" in waiting.comments["dev/driver_ranking"].comments[0].body
    )
    forge.set_team(team="acme/ml", members=["carol"])
    forge.approve_pr(number=number, reviewer="carol")
    approved = plan(forge, number, plans)
    assert statuses(approved)["slipway/policy"] == (
        "success",
        statuses(approved)["slipway/policy"][1],
    )
    assert "approved the emergency" in statuses(approved)["slipway/policy"][1]
    sha = forge.merge_pr(number=number, message="merge")
    report = report_deploy(
        forge=forge, env="dev/driver_ranking", sha=sha, pr_number=number, log_url=None,
        registries=registry.opener(), planner=plans, manifests_dir=MANIFESTS_DIR, base="main",
        outcome=ApplyOutcome(outcome="applied", desired="driver_ranking:2"),
    )  # fmt: skip
    assert str(report.deployment.payload["emergency"]).startswith("label `emergency` on #")
    assert "(emergency)" in report.deployment.description


def test_without_the_label_the_same_change_stays_frozen(
    tmp_path: Path, registry: FakeRegistry
) -> None:
    forge = forge_with(tmp_path, dev_extra=FROZEN)
    base = forge.read_file(path=DEV, ref="main")
    assert base is not None
    number = open_pr(forge, base.replace("version: 1", "version: 2"))
    result = plan(forge, number, planner(tmp_path, registry))
    assert result.plans["dev/driver_ranking"].blocked
    assert statuses(result)["slipway/policy"][0] == "failure"


def test_fault4_the_drift_issue_never_advises_an_apply_that_would_be_refused(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime

    forge = forge_with(tmp_path)
    drifted = [
        EnvStatus(env="prod", desired_ref="driver_ranking:2", serving_ref="driver_ranking:1",
                  healthy=True, drift=["serves driver_ranking:1, the manifest says 2"]),
        EnvStatus(env="dev", desired_ref="driver_ranking:2", drift=["nothing serves"]),
    ]  # fmt: skip
    frozen = "prod is frozen until 2027-01-04T00:00:00+00:00 (end-of-year change freeze)."
    result = drift_issue(
        forge=forge, statuses=drifted, now=datetime(2026, 12, 24, tzinfo=UTC),
        blockers={"prod": [frozen]},
    )  # fmt: skip
    assert result.issue is not None
    body = result.issue.body
    prod = next(line for line in body.splitlines() if line.startswith("- `prod`"))
    assert "would be refused (prod is frozen until 2027-01-04" in prod
    assert "labelled `emergency`" in prod
    assert "apply it" not in prod
    dev = next(line for line in body.splitlines() if line.startswith("- `dev`"))
    assert "apply it (`slipway deploy apply dev`" in dev


def test_fault10_the_body_links_the_sticky_plan_instead_of_a_second_plan(
    tmp_path: Path, registry: FakeRegistry
) -> None:
    forge = forge_with(tmp_path, owners=None)
    plans = planner(tmp_path, registry)
    opened = promote(
        PromotionRequest(env="staging", model=DR, source_env="dev"), forge=forge,
        registries=registry.opener(), planner=plans,
    )  # fmt: skip
    assert opened.pr is not None
    body = opened.pr.body
    assert "Policy checks" not in body, "no plan in the body"
    assert "Deploy plan:** not posted yet" in body
    result = comment_plan(
        forge=forge, number=opened.pr.number, planner=plans, manifests_dir=MANIFESTS_DIR
    )
    assert result.body_updated
    linked = forge.get_pr(number=opened.pr.number).body
    url = result.comments["staging/driver_ranking"].url
    assert f"[`staging/driver_ranking`]({url})" in linked
    assert f"planned at `{opened.pr.head_sha[:12]}`" in linked
    again = comment_plan(
        forge=forge, number=opened.pr.number, planner=plans, manifests_dir=MANIFESTS_DIR
    )
    assert not again.body_updated, "an unchanged link is not edited again"
    forge.update_pr(number=opened.pr.number, edit=PrEdit(body="a human body, no link line"))
    kept = comment_plan(
        forge=forge, number=opened.pr.number, planner=plans, manifests_dir=MANIFESTS_DIR
    )
    assert not kept.body_updated
    assert forge.get_pr(number=opened.pr.number).body == "a human body, no link line"


@pytest.mark.parametrize("kind", ["config", "rollback", "promotion"])
def test_fault10_the_comment_shows_the_change_kind_and_every_changed_field(
    tmp_path: Path, registry: FakeRegistry, kind: str
) -> None:
    from model_deploy.plan import FieldChange

    forge = forge_with(tmp_path, owners=None)
    base = forge.read_file(path=DEV, ref="main")
    assert base is not None
    number = open_pr(forge, base.replace("sampling_percentage: 100", "sampling_percentage: 10"))
    real = planner(tmp_path, registry)
    capture, smoke = "data_capture.sampling_percentage", "smoke_tests[0].expect.probability.min"
    fields = [
        FieldChange(key=capture, setting=capture, serving="100", desired="10"),
        FieldChange(key=smoke, setting=smoke, serving="0.0", desired="0.5"),
    ]

    def fake(env, manifests, /, *, policies=None, emergency=None):  # type: ignore[no-untyped-def]
        made = real(env, manifests, policies=policies, emergency=emergency)
        return made.model_copy(update={"change_kind": kind, "manifest_changes": fields})

    result = plan(forge, number, fake)
    comment = result.comments["dev/driver_ranking"].comments[0].body
    words = {"config": "config change", "rollback": "rollback", "promotion": "model promotion"}
    assert f"**Change:** {words[kind]}" in comment
    assert "#### Manifest fields that change" in comment
    assert "`data_capture.sampling_percentage` | `100` | **`10`**" in comment
    assert "`smoke_tests[0].expect.probability.min` | `0.0` | **`0.5`**" in comment


def test_fault4_promote_emergency_labels_the_pull_request_and_the_plan_records_it(
    tmp_path: Path, registry: FakeRegistry
) -> None:
    forge = forge_with(tmp_path)
    plans = planner(tmp_path, registry)
    opened = promote(
        PromotionRequest(env="staging", model=DR, source_env="dev", emergency=True), forge=forge,
        registries=registry.opener(), planner=plans,
    )  # fmt: skip
    assert opened.pr is not None
    assert "emergency" in opened.pr.labels
    assert "**Emergency.** Labelled `emergency`" in opened.pr.body
    assert "--emergency" in opened.pr.body
    result = plan(forge, opened.pr.number, plans)
    assert result.plans[
        "staging/driver_ranking"
    ].emergency == f"label `emergency` on #{opened.pr.number}: " + (opened.pr.title)
    assert result.governance.emergency is not None
    assert statuses(result)["slipway/policy"][0] == "failure", "the owners must approve it"
