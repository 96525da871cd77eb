"""CODEOWNERS read the way GitHub reads it: the last matching line wins; owners from the base."""

from __future__ import annotations

from pathlib import Path

import pytest
from ci_support import make_git_repo

from ci.codeowners import parse_codeowners, read_codeowners
from ci.forge.local import LocalForge

RULES = """\
# comment line
*                                   @acme/maintainers
*.md                                @acme/docs   # inline comment
/model_deploy/                      @acme/ml
/model_deploy/environments/prod/ @acme/release @carol
/model_deploy/policies/             @acme/release
docs/**/secret.txt
apps/*/config.yaml                  owner@example.com
"""


@pytest.mark.parametrize(
    ("path", "owners"),
    [
        ("README.md", ("@acme/docs",)),
        ("deep/down/notes.md", ("@acme/docs",)),
        ("setup.py", ("@acme/maintainers",)),
        ("model_deploy/environments/dev/driver_ranking.yaml", ("@acme/ml",)),
        ("model_deploy/environments/prod/driver_ranking.yaml", ("@acme/release", "@carol")),
        ("model_deploy/policies/freeze.py", ("@acme/release",)),
        ("docs/a/b/secret.txt", ()),
        ("apps/web/config.yaml", ("owner@example.com",)),
        ("apps/web/deep/config.yaml", ("@acme/maintainers",)),
        ("x/model_deploy/policies/freeze.py", ("@acme/maintainers",)),
    ],
)
def test_the_last_matching_rule_decides(path: str, owners: tuple[str, ...]) -> None:
    assert parse_codeowners(RULES, source="CODEOWNERS").owners_of(path) == owners


def test_the_file_is_read_where_github_looks_for_it(tmp_path: Path) -> None:
    forge = LocalForge(
        repo=make_git_repo(tmp_path / "repo", {"docs/CODEOWNERS": "* @a\n", "CODEOWNERS": "* @b\n"})
    )
    found = read_codeowners(forge, ref="main")
    assert (found.source, found.owners_of("x")) == ("CODEOWNERS", ("@b",))
    assert read_codeowners(forge, ref="no-such-ref").rules == ()
