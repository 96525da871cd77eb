"""LocalRegistry beyond the shared contract: concurrency, crash safety, history, layout."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from model_build.errors import RegistryError
from model_build.registry import ApprovalStatus, LocalRegistry, NewVersion
from model_build.registry.local import INDEX_FILE, VERSION_FILE
from model_bundle.bundle import bundle_files

A, P, R = ApprovalStatus.APPROVED, ApprovalStatus.PENDING, ApprovalStatus.REJECTED
NewVersionFactory = Callable[..., NewVersion]


def _register_many(root: str, bundle_dir: str, new_json: str, count: int, start: Any) -> None:
    """Child process: wait until every worker is ready, then register ``count`` versions."""
    start.wait(30)
    registry = LocalRegistry(Path(root))
    new = NewVersion.model_validate_json(new_json)
    for _ in range(count):
        registry.register(new=new, bundle_dir=Path(bundle_dir))


def test_processes_registering_at_once_get_distinct_versions(
    tmp_path: Path, bundle: tuple[Path, str], new_version: NewVersionFactory
) -> None:
    root, workers, each = tmp_path / "registry", 4, 4
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(workers)
    args = (str(root), str(bundle[0]), new_version().model_dump_json(), each, start)
    processes = [context.Process(target=_register_many, args=args) for _ in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    registry = LocalRegistry(root)
    versions = registry.list_versions(model_name="driver_ranking")
    assert [v.version for v in versions] == list(range(1, workers * each + 1))
    index = json.loads((root / "driver_ranking" / INDEX_FILE).read_text())
    assert [e["version"] for e in index["versions"]] == list(range(1, workers * each + 1))
    assert not [p for p in (root / "driver_ranking").iterdir() if p.name.startswith(".tmp-")]


def test_layout_on_disk(
    tmp_path: Path, bundle: tuple[Path, str], new_version: NewVersionFactory
) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    version = registry.register(new=new_version(), bundle_dir=bundle[0])
    folder = tmp_path / "registry" / "driver_ranking" / "1"
    assert sorted(p.name for p in folder.iterdir()) == ["bundle", VERSION_FILE]
    stored = sorted(p.name for p in (folder / "bundle").iterdir())
    assert stored == bundle_files(bundle[0])
    assert {"MLmodel", "bundle.json", "model.pkl", "requirements.txt"} <= set(stored)
    assert version.artifact_uri == str((folder / "bundle").resolve())
    record = json.loads((folder / VERSION_FILE).read_text())
    assert record["version"]["artifact_digest"] == bundle[1]
    index = json.loads((tmp_path / "registry" / "driver_ranking" / INDEX_FILE).read_text())
    assert index["versions"][0]["status"] == "Pending"


def test_status_history_records_reasons_times_and_overrides(
    tmp_path: Path, bundle: tuple[Path, str], new_version: NewVersionFactory
) -> None:
    registry = LocalRegistry(tmp_path)
    registry.register(new=new_version(), bundle_dir=bundle[0])
    ref: dict[str, Any] = {"model_name": "driver_ranking", "version": 1}
    registry.set_status(**ref, status=A, reason="beats baseline")
    registry.set_status(**ref, status=A, reason="no-op")
    registry.set_status(**ref, status=R, reason="drift")
    registry.set_status(**ref, status=A, reason="drift was a bug", force=True)
    history = registry.status_history(**ref)
    assert [(h.status, h.reason, h.forced) for h in history] == [
        (P, "registered", False),
        (A, "beats baseline", False),
        (R, "drift", False),
        (A, "drift was a bug", True),
    ]
    times = [h.at for h in history]
    assert times == sorted(times)
    assert all(t.tzinfo is not None for t in times)
    index = json.loads((tmp_path / "driver_ranking" / INDEX_FILE).read_text())
    assert index["versions"][0]["status"] == "Approved"


def test_failed_commit_leaves_nothing_behind(
    tmp_path: Path,
    bundle: tuple[Path, str],
    new_version: NewVersionFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = LocalRegistry(tmp_path)

    def crash(src: Any, dst: Any) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr("model_build.registry.local.os.rename", crash)
    with pytest.raises(RegistryError, match="disk on fire"):
        registry.register(new=new_version(), bundle_dir=bundle[0])
    monkeypatch.undo()
    assert registry.list_versions(model_name="driver_ranking") == []
    assert not [p for p in (tmp_path / "driver_ranking").iterdir() if p.name.startswith(".tmp")]
    assert registry.register(new=new_version(), bundle_dir=bundle[0]).version == 1


def test_failed_status_write_keeps_the_old_status(
    tmp_path: Path,
    bundle: tuple[Path, str],
    new_version: NewVersionFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = LocalRegistry(tmp_path)
    registry.register(new=new_version(), bundle_dir=bundle[0])

    def crash(src: Any, dst: Any) -> None:
        raise OSError("no space left")

    monkeypatch.setattr("model_build.registry.local.os.replace", crash)
    with pytest.raises(RegistryError, match="no space left"):
        registry.set_status(model_name="driver_ranking", version=1, status=A)
    monkeypatch.undo()
    assert registry.get(model_name="driver_ranking", version=1).status == P
    leftovers = [p.name for p in (tmp_path / "driver_ranking" / "1").iterdir()]
    assert sorted(leftovers) == ["bundle", VERSION_FILE]


def test_index_is_a_rebuildable_cache(
    tmp_path: Path, bundle: tuple[Path, str], new_version: NewVersionFactory
) -> None:
    registry = LocalRegistry(tmp_path)
    registry.register(new=new_version(), bundle_dir=bundle[0])
    (tmp_path / "driver_ranking" / INDEX_FILE).unlink()
    assert [v.version for v in registry.list_versions(model_name="driver_ranking")] == [1]
    registry.register(new=new_version(), bundle_dir=bundle[0])
    index = json.loads((tmp_path / "driver_ranking" / INDEX_FILE).read_text())
    assert [e["version"] for e in index["versions"]] == [1, 2]


def test_leftovers_of_a_crash_are_ignored_then_swept(
    tmp_path: Path, bundle: tuple[Path, str], new_version: NewVersionFactory
) -> None:
    registry = LocalRegistry(tmp_path)
    registry.register(new=new_version(), bundle_dir=bundle[0])
    model_dir = tmp_path / "driver_ranking"
    old, fresh = model_dir / ".tmp-old", model_dir / ".tmp-fresh"
    for folder in (old, fresh):
        folder.mkdir()
        (folder / VERSION_FILE).write_text("{half written")
    day_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (day_ago, day_ago))
    (model_dir / "7").mkdir()  # a version folder without version.json: not a version
    assert [v.version for v in registry.list_versions(model_name="driver_ranking")] == [1]
    assert registry.register(new=new_version(), bundle_dir=bundle[0]).version == 2
    assert not old.exists()
    assert fresh.exists()  # may belong to a registration in progress


def test_corrupt_record_is_reported_with_its_path(
    tmp_path: Path, bundle: tuple[Path, str], new_version: NewVersionFactory
) -> None:
    registry = LocalRegistry(tmp_path)
    registry.register(new=new_version(), bundle_dir=bundle[0])
    (tmp_path / "driver_ranking" / "1" / VERSION_FILE).write_text("{not json")
    with pytest.raises(RegistryError, match=r"driver_ranking/1/version\.json"):
        registry.get(model_name="driver_ranking", version=1)


def test_tampered_bundle_is_refused_on_fetch(
    tmp_path: Path, bundle: tuple[Path, str], new_version: NewVersionFactory
) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    registry.register(new=new_version(), bundle_dir=bundle[0])
    stored = tmp_path / "registry" / "driver_ranking" / "1" / "bundle" / "bundle.json"
    stored.write_text(stored.read_text().replace("0.5", "0.1"))
    with pytest.raises(RegistryError, match="does not match"):
        registry.fetch_bundle(model_name="driver_ranking", version=1, directory=tmp_path / "out")


@pytest.mark.parametrize("name", ["../escape", "a/b", "", "-x", "x" * 64])
def test_model_names_cannot_escape_the_root(tmp_path: Path, name: str) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    with pytest.raises(RegistryError, match="invalid model name"):
        registry.list_versions(model_name=name)


def test_list_models_ignores_stray_folders(
    tmp_path: Path, bundle: tuple[Path, str], new_version: NewVersionFactory
) -> None:
    registry = LocalRegistry(tmp_path)
    assert LocalRegistry(tmp_path / "missing").list_models() == []
    registry.register(new=new_version(model_name="b_model"), bundle_dir=bundle[0])
    registry.register(new=new_version(model_name="a-model"), bundle_dir=bundle[0])
    (tmp_path / "empty_model").mkdir()
    (tmp_path / ".hidden").mkdir()
    assert registry.list_models() == ["a-model", "b_model"]


def _baseline_folder(tmp_path: Path) -> Path:
    import numpy as np
    import pandas as pd

    from model_monitor.baseline import build_baseline

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"conv_rate": rng.uniform(size=50), "segment": rng.choice(["a", "b"], 50)})
    built = build_baseline(features=frame, prediction=rng.normal(size=50), task="regression")
    built.write(directory=tmp_path / "baseline-src")
    return tmp_path / "baseline-src"


def test_the_baseline_sits_beside_the_bundle_and_a_damaged_one_is_an_error(
    tmp_path: Path, bundle: tuple[Path, str], new_version: NewVersionFactory
) -> None:
    registry = LocalRegistry(tmp_path / "registry")
    source = _baseline_folder(tmp_path)
    registry.register(new=new_version(), bundle_dir=bundle[0], baseline_dir=source)
    folder = tmp_path / "registry" / "driver_ranking" / "1"
    assert sorted(p.name for p in folder.iterdir()) == ["baseline", "bundle", VERSION_FILE]
    assert sorted(p.name for p in (folder / "baseline").iterdir()) == sorted(
        p.name for p in source.iterdir()
    )
    (folder / "baseline" / "constraints.json").unlink()
    with pytest.raises(RegistryError, match=r"driver_ranking:1: .* \(missing constraints.json\)"):
        registry.fetch_baseline(model_name="driver_ranking", version=1, directory=tmp_path / "x")
