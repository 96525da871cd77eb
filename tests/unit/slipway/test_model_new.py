"""``slipway init`` and ``slipway model new``: refusals first, then what they write loads."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from model_build.definition.catalog import model_folders
from model_build.definition.loader import load_definition
from model_deploy.manifest.sources import ManifestFolder, conflicts
from slipway.cli.app import run
from slipway.cli.init import create_project, project_slug
from slipway.cli.model import ProjectError, add_model


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "acme"
    create_project(directory=root, name="Acme Renewals", model="churn", task="binary")
    return root


def _manifests(root: Path) -> ManifestFolder:
    return ManifestFolder(root / "model_deploy" / "environments")


def test_init_refuses_a_folder_that_is_not_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    assert run(["init", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "is not empty" in err
    assert "--force" in err
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_init_refuses_a_file_and_a_bad_name(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ProjectError, match="is a file"):
        create_project(directory=tmp_path / "file", name=None, model="churn", task="binary")
    with pytest.raises(ProjectError, match="invalid project name"):
        create_project(directory=tmp_path / "new", name='a "quoted" name', model="m", task="binary")
    with pytest.raises(ProjectError, match="invalid model name"):
        create_project(directory=tmp_path / "new", name="ok", model="Churn-1", task="binary")
    assert not (tmp_path / "new").exists()


def test_init_with_force_renders_into_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n")
    assert run(["init", str(tmp_path), "--force", "--name", "forced"]) == 0
    assert (tmp_path / "notes.txt").read_text() == "mine\n"
    assert (tmp_path / "model_build" / "models" / "churn" / "model.yaml").is_file()


def test_init_writes_a_project_the_loaders_accept(project: Path) -> None:
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["project_slug"] == "acme_renewals"
    assert answers["model_name"] == "churn"
    assert Path(answers["_src_path"]).name == "project"
    definition = load_definition(path=project / "model_build" / "models" / "churn")
    assert definition.model.task.value == "binary"
    assert definition.data.label == "churned"
    source = _manifests(project)
    assert source.names() == ["dev/churn", "staging/churn", "prod/churn"]
    ports = {source.load(key).manifest.target.port for key in source.names()}  # type: ignore[union-attr]
    assert ports == {8701, 8702, 8703}
    assert (project / "model_deploy" / "manifest.schema.json").is_file()
    assert "project: acme_renewals" in (project / "feature_repo/feature_store.yaml").read_text()
    readme = (project / "README.md").read_text()
    assert "make demo" in readme
    assert "make test" in readme
    assert "\tslipway" not in (project / "Makefile").read_text()  # through $(SLIPWAY)


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_init_renders_every_task(tmp_path: Path, task: str) -> None:
    root = tmp_path / task
    create_project(directory=root, name=task, model="first", task=task)
    assert load_definition(path=root / "model_build" / "models" / "first").model.task == task


def test_project_slug_is_a_feast_project_name() -> None:
    assert project_slug("Acme Renewals, Inc.") == "acme_renewals_inc"
    assert project_slug("42 things") == "p_42_things"
    assert project_slug("---") == "project"


def test_model_new_refuses_an_existing_name(project: Path) -> None:
    before = sorted(p for p in project.rglob("*") if p.is_file())
    with pytest.raises(ProjectError, match="model 'churn' exists"):
        add_model(root=project, name="churn", task="regression")
    assert sorted(p for p in project.rglob("*") if p.is_file()) == before


@pytest.mark.parametrize("name", ["Fare", "1fare", "fare-model", "", "x" * 64, "../up"])
def test_model_new_refuses_an_invalid_name(project: Path, name: str) -> None:
    with pytest.raises(ProjectError, match="invalid model name"):
        add_model(root=project, name=name, task="regression")


def test_model_new_refuses_a_bad_task_and_outside_a_project(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["model", "new", "fare", "--project", str(project), "--task", "ranking"]
    assert run(args) == 2
    assert "ranking" in capsys.readouterr().err
    assert not (project / "model_build" / "models" / "fare").exists()
    (tmp_path / "empty").mkdir()
    args = ["model", "new", "fare", "--project", str(tmp_path / "empty"), "--task", "binary"]
    assert run(args) == 1
    assert "not a Slipway project" in capsys.readouterr().err


def test_model_new_needs_a_label_for_another_entity_source(project: Path) -> None:
    with pytest.raises(ProjectError, match="give --label"):
        add_model(root=project, name="fare", task="regression", entity_source="trips")


def test_model_new_refuses_what_the_loader_refuses(project: Path) -> None:
    from model_build.definition.loader import DefinitionError

    with pytest.raises(DefinitionError, match=r"model\.yaml"):
        add_model(root=project, name="fare", task="regression", label="fare: usd")
    assert not (project / "model_build" / "models" / "fare").exists()


def test_model_new_adds_a_folder_and_one_manifest_per_environment(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["model", "new", "renewal_value", "--project", str(project), "--task", "regression"]
    assert run(args) == 0
    assert "renewal_value" in capsys.readouterr().out
    folders = [folder.name for folder in model_folders(root=project / "model_build" / "models")]
    assert folders == ["churn", "renewal_value"]
    definition = load_definition(path=project / "model_build" / "models" / "renewal_value")
    assert definition.model.task == "regression"
    assert definition.model.feature_service == "account_health_v1"
    assert definition.data.label == "contract_value"
    assert definition.sagemaker.pipeline_name == "acme-renewal-value"
    source = _manifests(project)
    keys = source.names()
    assert {"dev/renewal_value", "staging/renewal_value", "prod/renewal_value"} <= set(keys)
    for key in keys:
        assert conflicts(source, key) == [], key
    prod = source.load("prod/renewal_value").manifest
    assert prod.model is None
    assert prod.strategy.type == "linear"
    assert prod.promotion is not None
    assert prod.promotion.from_env == "staging"
    assert [case.expect.prediction for case in prod.smoke_tests] != []
    assert all(case.expect.prediction is not None for case in prod.smoke_tests)
    assert "r2" in prod.policy.thresholds
    # the first model's files are untouched
    assert (
        "renewal_value" not in (project / "model_deploy/environments/prod/churn.yaml").read_text()
    )


def test_model_new_with_an_unknown_feature_service_has_no_smoke_rows(project: Path) -> None:
    created = add_model(
        root=project,
        name="plan",
        task="multiclass",
        feature_service="plans_v1",
        label="next_plan",
    )
    assert len(created.files) == 4
    dev = _manifests(project).load("dev/plan").manifest
    assert dev.smoke_tests == []
    assert load_definition(path=project / "model_build/models/plan").model.feature_service == (
        "plans_v1"
    )
