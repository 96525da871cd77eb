"""Retrain by pull request (issue 14, item 4) on the local forge: failure paths first.

Acceptance: two runs with violations make one pull request and one issue; a clean run closes
the issue.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ci_support import make_git_repo

from ci.errors import CiError, ForgeError
from ci.forge.local import LocalForge
from ci.forge.records import UNPROTECTED, Issue
from ci.markers import marker
from ci.retrain import (
    MONITOR_LABEL,
    RETRAIN_LABEL,
    RetrainResult,
    issue_key,
    request_retrain,
    retrain_branch,
    stamp_path,
)
from ci.retrain_input import MonitorFindings, findings_of, load_findings

MODEL = "driver_ranking"
T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def summary(
    *violations: tuple[str, str, str],
    status: str | None = None,
    first: str = "2026-03-01 00:00:00",
    requests: int = 2000,
    quality: list[dict[str, str]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A ``summary.json`` as ``MonitorResult.to_json`` writes it."""
    listed = [
        {"feature_name": f, "constraint_check_type": c, "description": d} for f, c, d in violations
    ]
    bad = bool(listed) or bool(quality)
    return {
        "status": status or ("CompletedWithViolations" if bad else "Completed"),
        "failure_reason": None,
        "window": {
            "requests": requests,
            "rows": requests,
            "first_inference_time": first,
            "last_inference_time": "2026-03-01 05:59:00",
            "read": {},
        },
        "violations": listed,
        "model_quality": None if quality is None else {"violations": quality},
        "files": {"html": "/tmp/monitor/report.html"},
        **extra,
    }


DRIFT = ("conv_rate", "baseline_drift_check", "distance 0.31 > 0.1")
MISSING = ("rating", "completeness_check", "completeness 0.80 < 0.99")


def findings(doc: dict[str, Any], env: str = "prod") -> MonitorFindings:
    return findings_of(doc, env=env, model=MODEL)


class FlakyForge(LocalForge):
    """A local forge whose next ``fail_on`` call raises, once."""

    fail_on: str | None = None

    def _maybe_fail(self, name: str) -> None:
        if self.fail_on == name:
            self.fail_on = None
            raise ForgeError(f"{name}: HTTP 502 (injected)", status=502)

    def create_issue(self, *, title: str, body: str, labels: tuple[str, ...]) -> Issue:
        self._maybe_fail("create_issue")
        return super().create_issue(title=title, body=body, labels=labels)

    def update_issue(self, **kwargs: Any) -> Issue:
        self._maybe_fail("update_issue")
        return super().update_issue(**kwargs)


@pytest.fixture
def forge(tmp_path: Path) -> FlakyForge:
    return FlakyForge(repo=make_git_repo(tmp_path / "repo"), protection=UNPROTECTED)


def run(
    forge: LocalForge,
    doc: dict[str, Any],
    *,
    env: str = "prod",
    at: datetime = T0,
    report: str | None = "https://ci.example/artifacts/1",
) -> RetrainResult:
    return request_retrain(
        forge=forge,
        env=env,
        model=MODEL,
        findings=findings(doc, env),
        now=at,
        base="main",
        report_url=report,
        run_url="https://ci.example/runs/1",
    )


def open_issues(forge: LocalForge) -> list[Issue]:
    return [i for i in forge.list_issues(state="open") if MONITOR_LABEL in i.labels]


# --- failure paths --------------------------------------------------------------------------


def test_not_a_monitoring_result_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CiError, match="status"):
        findings({"status": "Done", "violations": []})
    with pytest.raises(CiError, match="not a list"):
        findings({"status": "Completed", "violations": {"a": 1}})
    with pytest.raises(CiError, match="constraint_check_type"):
        findings({"status": "CompletedWithViolations", "violations": [{"feature_name": "x"}]})
    with pytest.raises(CiError, match="not prod/driver_ranking"):
        findings(summary(DRIFT, env="staging", model=MODEL))
    broken = tmp_path / "monitor.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(CiError, match=r"monitor\.json"):
        load_findings(broken, env="prod", model=MODEL)
    with pytest.raises(CiError, match="no result of prod/driver_ranking"):
        findings_of({"results": [summary(DRIFT, env="dev", model=MODEL)]}, env="prod", model=MODEL)


def test_names_that_are_not_plain_are_refused(forge: LocalForge) -> None:
    with pytest.raises(CiError, match="plain name"):
        request_retrain(
            forge=forge, env="prod/x", model=MODEL, findings=findings(summary(DRIFT)),
            now=T0, base="main",
        )  # fmt: skip


def test_a_clean_run_without_an_issue_does_nothing(forge: LocalForge) -> None:
    done = run(forge, summary())
    assert done.action == "none"
    assert (done.issue, done.pr) == (None, None)
    assert forge.list_issues() == []
    assert forge.list_prs() == []
    assert forge.branch_sha(branch=retrain_branch(MODEL)) is None


def test_a_run_that_analysed_nothing_touches_nothing(forge: LocalForge) -> None:
    opened = run(forge, summary(DRIFT))
    empty = summary(status="Failed", requests=0)
    empty["failure_reason"] = "the capture window holds no rows to analyse"
    done = run(forge, empty, at=T0 + timedelta(hours=1))
    assert done.action == "inconclusive"
    assert done.issue is not None
    assert opened.issue is not None
    assert opened.pr is not None
    assert done.issue.number == opened.issue.number
    assert [i.state for i in forge.list_issues()] == ["open"]
    assert forge.list_comments(number=done.issue.number) == []
    assert forge.get_pr(number=opened.pr.number).body == opened.pr.body


def test_a_forge_error_after_the_pr_converges_on_rerun(forge: FlakyForge) -> None:
    forge.fail_on = "create_issue"
    with pytest.raises(ForgeError, match="injected"):
        run(forge, summary(DRIFT))
    assert len(forge.list_prs(state="open")) == 1
    assert forge.list_issues() == []
    head = forge.branch_sha(branch=retrain_branch(MODEL))
    done = run(forge, summary(DRIFT))
    assert done.action == "requested"
    assert done.pr_action == "unchanged"
    assert done.commit is not None
    assert not done.commit.changed
    assert forge.branch_sha(branch=retrain_branch(MODEL)) == head
    assert len(forge.list_prs()) == 1
    assert len(forge.list_issues()) == 1
    assert done.issue is not None
    assert done.pr is not None
    assert f"#{done.pr.number}" in done.issue.body


def test_a_forge_error_while_closing_converges_without_a_second_comment(
    forge: FlakyForge,
) -> None:
    opened = run(forge, summary(DRIFT))
    forge.fail_on = "update_issue"
    with pytest.raises(ForgeError, match="injected"):
        run(forge, summary(), at=T0 + timedelta(hours=1))
    done = run(forge, summary(), at=T0 + timedelta(hours=2))
    assert done.action == "closed"
    assert opened.issue is not None
    assert opened.pr is not None
    assert len(forge.list_comments(number=opened.issue.number)) == 1
    assert len(forge.list_comments(number=opened.pr.number)) == 1


def test_env_b_never_touches_the_issue_of_env_a(forge: LocalForge) -> None:
    prod = run(forge, summary(DRIFT), env="prod")
    staging = run(forge, summary(MISSING), env="staging")
    assert prod.issue is not None
    assert staging.issue is not None
    assert staging.issue.number != prod.issue.number
    assert prod.pr is not None
    assert staging.pr is not None
    assert forge.get_pr(number=prod.pr.number).number == staging.pr.number
    cleared = run(forge, summary(), env="staging", at=T0 + timedelta(hours=1))
    assert cleared.action == "closed"
    assert cleared.issue is not None
    assert cleared.issue.number == staging.issue.number
    states = {i.number: i.state for i in forge.list_issues()}
    assert states == {prod.issue.number: "open", staging.issue.number: "closed"}
    assert forge.list_comments(number=prod.issue.number) == []
    prod_body = next(i.body for i in forge.list_issues() if i.number == prod.issue.number)
    assert prod_body == prod.issue.body


def test_another_model_in_the_same_env_gets_its_own_issue_and_pr(forge: LocalForge) -> None:
    first = run(forge, summary(DRIFT))
    other = request_retrain(
        forge=forge, env="prod", model="trip_fare", now=T0, base="main",
        findings=findings_of(summary(DRIFT), env="prod", model="trip_fare"),
    )  # fmt: skip
    assert other.issue is not None
    assert first.issue is not None
    assert other.pr
    assert first.pr
    assert other.issue.number != first.issue.number
    assert other.pr.number != first.pr.number
    assert other.pr.head == "slipway/retrain-trip_fare"


# --- the loop -------------------------------------------------------------------------------


def test_two_runs_with_violations_make_one_pr_and_one_issue(forge: LocalForge) -> None:
    first = run(forge, summary(DRIFT))
    assert first.action == "requested"
    assert (first.pr_action, first.issue_action) == ("created", "created")
    assert first.pr is not None
    assert first.issue is not None
    assert first.commit is not None
    assert first.pr.head == retrain_branch(MODEL)
    assert RETRAIN_LABEL in first.pr.labels
    assert first.issue.body.startswith(marker(issue_key("prod", MODEL)))
    assert f"#{first.pr.number}" in first.issue.body
    assert f"| #{first.issue.number} |" in forge.get_pr(number=first.pr.number).body
    assert set(first.issue.labels) >= {MONITOR_LABEL, "env:prod", f"model:{MODEL}"}
    # the stamp under model_build/ is what the model-build workflow's path filter picks up
    path = stamp_path(MODEL)
    assert path.startswith("model_build/")
    stamp = json.loads(forge.read_file(path=path, ref=first.pr.head) or "")
    assert stamp["why"]["prod"]["violations"] == ["baseline_drift_check: conv_rate"]
    assert stamp["why"]["prod"]["report"] == "https://ci.example/artifacts/1"
    assert forge.changed_paths(base="main", head=first.pr.head) == [path]
    for text in (first.pr.body, first.issue.body):
        assert "conv_rate" in text
        assert "2026-03-01 00:00:00" in text
        assert "https://ci.example/artifacts/1" in text

    later = summary(
        ("conv_rate", "baseline_drift_check", "distance 0.35 > 0.1"),
        first="2026-03-01 06:00:00",
    )
    second = run(forge, later, at=T0 + timedelta(hours=6), report="https://ci.example/artifacts/2")
    assert second.action == "requested"
    assert second.pr is not None
    assert second.issue is not None
    assert second.commit is not None
    assert (second.pr.number, second.issue.number) == (first.pr.number, first.issue.number)
    assert (second.pr_action, second.issue_action) == ("updated", "updated")
    assert not second.commit.changed, "same violations: the stamp is not committed again"
    assert "distance 0.35" in second.issue.body
    assert "distance 0.31" not in second.issue.body
    assert "artifacts/2" in second.pr.body
    assert "2026-03-01 06:00:00" in second.pr.body
    assert len(forge.list_prs()) == 1
    assert len(forge.list_issues()) == 1

    same = run(forge, later, at=T0 + timedelta(hours=7), report="https://ci.example/artifacts/2")
    assert (same.pr_action, same.issue_action) == ("unchanged", "unchanged")

    more = run(forge, summary(DRIFT, MISSING), at=T0 + timedelta(hours=8))
    assert more.commit is not None
    assert more.commit.changed, "new violations: a new commit"
    assert more.issue is not None
    assert more.issue.title.endswith("2 violations")


def test_a_clean_run_closes_the_issue_with_a_comment_and_leaves_the_pr(
    forge: LocalForge,
) -> None:
    opened = run(forge, summary(DRIFT))
    assert opened.issue is not None
    assert opened.pr is not None
    done = run(forge, summary(), at=T0 + timedelta(days=1))
    assert (done.action, done.issue_action, done.pr_action) == ("closed", "closed", "commented")
    assert done.issue is not None
    assert done.issue.state == "closed"
    comments = forge.list_comments(number=opened.issue.number)
    assert len(comments) == 1
    assert "no violation as of 2026-03-02 06:00 UTC" in comments[0].body
    assert forge.get_pr(number=opened.pr.number).state == "open"
    assert "close it if none is wanted" in forge.list_comments(number=opened.pr.number)[0].body
    again = run(forge, summary(), at=T0 + timedelta(days=2))
    assert again.action == "none"
    assert len(forge.list_comments(number=opened.pr.number)) == 1


def test_a_violation_after_the_issue_closed_opens_a_new_issue_on_the_same_pr(
    forge: LocalForge,
) -> None:
    opened = run(forge, summary(DRIFT))
    run(forge, summary(), at=T0 + timedelta(hours=1))
    back = run(forge, summary(DRIFT), at=T0 + timedelta(hours=2))
    assert back.issue is not None
    assert opened.issue is not None
    assert back.pr
    assert opened.pr
    assert back.issue.number != opened.issue.number
    assert back.pr.number == opened.pr.number
    assert len(open_issues(forge)) == 1


def test_a_merged_retrain_is_not_requested_again_for_the_same_version(
    forge: LocalForge,
) -> None:
    opened = run(forge, summary(DRIFT, model_ref=f"{MODEL}:3"))
    assert opened.pr is not None
    forge.merge_pr(number=opened.pr.number, message="retrain")
    waiting = run(forge, summary(DRIFT, model_ref=f"{MODEL}:3"), at=T0 + timedelta(hours=6))
    assert (waiting.action, waiting.pr_action) == ("pending", "pending")
    assert waiting.pr is not None
    assert waiting.pr.number == opened.pr.number
    assert waiting.issue is not None
    assert "was merged for version" in waiting.issue.body
    assert forge.list_prs(state="open") == []
    # the retrained version serves and still violates: a new request, from a fresh branch
    again = run(forge, summary(DRIFT, model_ref=f"{MODEL}:4"), at=T0 + timedelta(days=2))
    assert (again.action, again.pr_action) == ("requested", "created")
    assert again.pr is not None
    assert again.pr.number != opened.pr.number
    assert again.commit is not None
    assert again.commit.changed
    assert forge.changed_paths(base="main", head=again.pr.head) == [stamp_path(MODEL)]
    assert again.issue is not None
    assert opened.issue is not None
    assert again.issue.number == opened.issue.number


def test_quality_violations_count(forge: LocalForge) -> None:
    quality = [
        {
            "metric_name": "roc_auc",
            "constraint_check_type": "LessThanThreshold",
            "description": "roc_auc 0.71 < 0.80 - 0.05",
        }
    ]
    done = run(forge, summary(quality=quality))
    assert done.violations == ("LessThanThreshold: roc_auc",)
    assert done.issue is not None
    assert "roc_auc 0.71" in done.issue.body


def test_the_result_of_monitor_run_json_is_picked_by_deployment() -> None:
    doc = {
        "results": [
            summary(DRIFT, deployment="prod/driver_ranking"),
            summary(deployment="staging/driver_ranking"),
        ]
    }
    assert findings_of(doc, env="prod", model=MODEL).violated
    assert not findings_of(doc, env="staging", model=MODEL).violated
    assert findings_of([summary(MISSING)], env="dev", model=MODEL).keys == (
        "completeness_check: rating",
    )


def test_a_model_monitor_result_is_taken_as_it_is() -> None:
    from model_monitor.reader import ReadReport
    from model_monitor.report import MonitorResult, WindowSummary
    from model_monitor.violations import Violation

    result = MonitorResult(
        status="CompletedWithViolations",
        window=WindowSummary(10, 10, "2026-03-01", "2026-03-02", ReadReport(records=10)),
        violations=(Violation(*DRIFT),),
        drift=None,
        quality=None,
        warnings=(),
        files={"html": Path("/tmp/r.html")},
    )
    found = findings_of(result, env="prod", model=MODEL)
    assert found.violated
    assert found.keys == ("baseline_drift_check: conv_rate",)
    assert found.report == "/tmp/r.html"
    assert found.requests == 10
