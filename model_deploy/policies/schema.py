"""Feature schema: the manifest, the smoke tests and the registered version agree.

On the feature service, on every smoke row's features, and on what the smoke tests expect:
the version's task decides the answer's shape (a ``prediction`` range on a classifier, or a
``probability`` on a regression model, can never pass).
"""

from __future__ import annotations

from model_deploy.policies.result import PolicyContext, PolicyResult
from model_deploy.smoke import expectation_problems

NAME = "feature-schema"


def check_feature_schema(ctx: PolicyContext) -> PolicyResult:
    """Check the feature service and that every smoke row gives exactly the model's features."""
    candidate, wanted = ctx.candidate, ctx.manifest.model
    if candidate is None or wanted is None:
        return PolicyResult(NAME, "skip", "No model version is deployed, so features are moot.")
    ref = f"{candidate.model_name}:{candidate.version}"
    if candidate.feature_service != wanted.feature_service:
        return PolicyResult(
            NAME,
            "fail",
            f"The manifest names feature service {wanted.feature_service}, but {ref} was "
            f"trained on {candidate.feature_service}.",
        )
    features = set(candidate.features)
    for case in ctx.manifest.smoke_tests:
        for index, row in enumerate(case.instances):
            missing, unexpected = sorted(features - set(row)), sorted(set(row) - features)
            if missing or unexpected:
                return PolicyResult(
                    NAME,
                    "fail",
                    f"Smoke test {case.name!r} row {index} does not match {ref}'s features "
                    f"(missing: {', '.join(missing) or '-'}; unexpected: "
                    f"{', '.join(unexpected) or '-'}).",
                )
    for case in ctx.manifest.smoke_tests:
        problems = expectation_problems(case, task=candidate.task)
        if problems:
            return PolicyResult(
                NAME,
                "fail",
                f"Smoke test {case.name!r} expects what {ref}, a {candidate.task} model, never "
                f"answers: {'; '.join(problems)}.",
            )
    return PolicyResult(
        NAME,
        "pass",
        f"{ref} ({candidate.task}) reads {candidate.feature_service} ({len(features)} "
        "features), as the manifest and its smoke tests do.",
    )
