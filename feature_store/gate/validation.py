"""Run the Great Expectations 1.x data gate over DataFrames.

Great Expectations is imported lazily (the import alone takes about five seconds), with
analytics and progress bars off. One ephemeral context serves every source of a call.

Before GX runs, Slipway checks the frame's columns: an expectation on a column the frame lacks
is not run but reported as failed (``not run: column(s) ... missing from the data``), so a
missing column never crashes the gate. Each source is then validated in two GX runs merged into
one result: the type expectations see the frame as it is, the others see it with narrow numeric
columns widened to 64 bits (lossless). GX 1.x checks value ranges of ``float32`` columns one
Python value at a time but vectorizes ``float64``: 1M driver rows take about 1 s, not 4 s.

Severity decides the gate: a failed ``critical`` expectation fails its source, ``warning`` and
``info`` failures are reported only.

The frames are pandas DataFrames, or Spark DataFrames when the ``spark`` store configuration
is chosen (GX's Spark data source; see :mod:`feature_store.gate.engines`): same suites, same
reports.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

from feature_store.errors import (
    DataFileError,
    FeatureStoreError,
    SuiteError,
    UnknownSourceError,
    ValidationFailedError,
)
from feature_store.gate.engines import FrameEngine, GateEngine, PandasEngine, SparkEngine
from feature_store.gate.report import ExpectationOutcome, SourceReport
from feature_store.gate.suites import (
    DATA_DIR,
    SUITES_DIR,
    check_suite,
    expectation_parameters,
    list_sources,
    load_suite,
    referenced_columns,
    suite_path,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["default_engine", "ensure_valid", "validate_frame", "validate_sources"]

TYPE_EXPECTATIONS: Final = frozenset(
    {"expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list"}
)
"""Expectations that must see the original dtypes (they run on the unwidened frame)."""

RUN_NAME: Final = "slipway-gate"


def validate_frame(
    *,
    source: str,
    frame: pd.DataFrame | Any,
    suite: dict[str, Any],
    now: datetime | None = None,
) -> SourceReport:
    """Validate one DataFrame (pandas, or Spark on the frame's own session) against a suite.

    Args:
        source: Data source name (used as the GX asset and in messages).
        frame: The data: a pandas or a pyspark ``DataFrame``.
        suite: A suite dict, e.g. from :func:`feature_store.gate.load_suite`.
        now: Reference time for the freshness parameters; defaults to the current time.

    Returns:
        The report; check ``success`` or pass it to :func:`ensure_valid`.

    Raises:
        SuiteError: The suite is malformed, has an unknown expectation type, bad arguments or
            bad settings.
        FeatureStoreError: Great Expectations failed unexpectedly.
    """
    engine: FrameEngine = PandasEngine()
    if _is_spark_frame(frame):
        engine = SparkEngine(cast(Any, frame).sparkSession)
    return _GxRunner(engine).validate(
        source=source, frame=frame, suite=suite, now=now or datetime.now(UTC), label=source
    )


def validate_sources(
    *,
    repo_path: Path,
    sources: list[str] | None = None,
    now: datetime | None = None,
    engine: GateEngine | None = None,
) -> list[SourceReport]:
    """Validate the Parquet data of sources against their suites.

    Suites and data files are checked before Great Expectations is imported, so a typo fails
    fast. One GX context serves all sources; frames are read one at a time.

    Args:
        repo_path: Feature repo folder (``expectations/`` and ``data/`` inside).
        sources: Source names; every source with a suite when None.
        now: Reference time for the freshness parameters; defaults to the current time.
        engine: ``pandas`` or ``spark`` (Spark DataFrames on the process's session, with the
            Spark settings of ``feature_store.spark.yaml`` and ``SLIPWAY_SPARK_*``). When None,
            ``spark`` if the chosen store configuration is (``SLIPWAY_FEATURE_ENV=spark``),
            else ``pandas``.

    Returns:
        One report per source, in the order given (sorted when ``sources`` is None).

    Raises:
        UnknownSourceError: A requested source has no suite (the message lists the known ones).
        SuiteError: No suites at all, or a suite file is missing, invalid or not a GX suite.
        DataFileError: A Parquet file is missing or unreadable.
        SparkUnavailableError: The Spark engine was chosen and pyspark or Java is missing.
        SettingsError: ``engine`` is None and ``SLIPWAY_FEATURE_ENV`` is invalid.
        FeatureStoreError: Great Expectations failed unexpectedly.
    """
    known = list_sources(repo_path=repo_path)
    if not known:
        raise SuiteError(f"{repo_path / SUITES_DIR}: no expectation suites (<source>.json) found")
    wanted = known if sources is None else list(dict.fromkeys(sources))
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise UnknownSourceError(
            f"unknown data source(s): {', '.join(unknown)}; known sources: {', '.join(known)}"
        )
    paths = {name: suite_path(repo_path=repo_path, source=name) for name in wanted}
    suites = {name: load_suite(path=path) for name, path in paths.items()}
    for name in wanted:  # fail on a missing file before the slow GX import
        path = repo_path / DATA_DIR / f"{name}.parquet"
        if not path.is_file():
            raise DataFileError(f"{path}: data file not found (generate or copy it first)")
    if not wanted:
        return []
    moment = now or datetime.now(UTC)
    frames = _engine(engine or default_engine(), repo_path=repo_path)
    runner = _GxRunner(frames)
    reports: list[SourceReport] = []
    for name in wanted:
        frame = frames.read(repo_path=repo_path, source=name)
        reports.append(
            runner.validate(
                source=name, frame=frame, suite=suites[name], now=moment, label=str(paths[name])
            )
        )
        del frame
    return reports


def ensure_valid(reports: list[SourceReport]) -> None:
    """Raise if any source failed the gate (warnings alone pass).

    Args:
        reports: Reports from :func:`validate_sources` or :func:`validate_frame`.

    Raises:
        ValidationFailedError: Names each failing source and its first failed expectations;
            ``failures`` maps every failing source to all its failure lines.
    """
    failed = {report.source: report.failures() for report in reports if not report.success}
    if not failed:
        return
    parts = []
    for source, lines in failed.items():
        shown = "; ".join(lines[:3]) + (f"; +{len(lines) - 3} more" if len(lines) > 3 else "")
        parts.append(f"{source} ({len(lines)} failed: {shown})")
    raise ValidationFailedError(
        f"data gate failed for {len(failed)} source(s): {' | '.join(parts)}", failures=failed
    )


def default_engine() -> GateEngine:
    """``spark`` when the chosen store configuration is (``SLIPWAY_FEATURE_ENV``), else pandas.

    Raises:
        SettingsError: ``SLIPWAY_FEATURE_ENV`` (or another feature store setting) is invalid.
    """
    from feature_store.settings import FeatureStoreSettings
    from foundation.settings import load_settings

    return "spark" if load_settings(FeatureStoreSettings).feature_env == "spark" else "pandas"


def _engine(name: GateEngine, *, repo_path: Path) -> FrameEngine:
    if name == "pandas":
        return PandasEngine()
    from feature_store.spark.session import repo_spark_session

    return SparkEngine(repo_spark_session(repo_path))


def _is_spark_frame(frame: object) -> bool:
    return type(frame).__module__.startswith("pyspark.") and hasattr(frame, "sparkSession")


class _GxRunner:
    """One ephemeral GX context, reused for every source of a call (creating it is slow)."""

    def __init__(self, engine: FrameEngine) -> None:
        os.environ["GX_ANALYTICS_ENABLED"] = "false"
        import great_expectations as gx
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self._gx = gx
        self._context = gx.get_context(mode="ephemeral")
        self._context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self._engine = engine
        self._datasource = engine.add_datasource(self._context)
        self._batches: dict[str, Any] = {}
        self._runs = 0
        self._run_id = RunIdentifier(run_name=RUN_NAME, run_time=datetime.now(UTC))

    def validate(
        self,
        *,
        source: str,
        frame: Any,
        suite: dict[str, Any],
        now: datetime,
        label: str,
    ) -> SourceReport:
        """Validate ``frame``, held (cached) by the engine for the GX runs, released after."""
        with self._engine.held(frame) as held:
            return self._validate(source=source, frame=held, suite=suite, now=now, label=label)

    def _validate(
        self,
        *,
        source: str,
        frame: Any,
        suite: dict[str, Any],
        now: datetime,
        label: str,
    ) -> SourceReport:
        started = time.perf_counter()
        params = expectation_parameters(check_suite(suite, label=label), now=now)
        expectations: list[dict[str, Any]] = suite["expectations"]
        configs = [
            self._expectation(self._engine.expectation(exp, label=label, index=i), i, label)
            for i, exp in enumerate(expectations)
        ]
        engine_params = self._engine.parameters(params)
        present = {str(column) for column in frame.columns}
        results: list[tuple[int, dict[str, Any]]] = []
        typed: list[int] = []
        valued: list[int] = []
        for index, exp in enumerate(expectations):
            missing = [c for c in referenced_columns(exp) if c not in present]
            if missing:
                results.append((index, _not_run(exp, missing, params)))
            else:
                (typed if exp["type"] in TYPE_EXPECTATIONS else valued).append(index)
        base: dict[str, Any] = {}
        if typed:
            base = self._run(source, frame, suite, [configs[i] for i in typed], engine_params)
            results.extend(zip(typed, base["results"], strict=True))
        if valued or not base:  # always one GX run, for the batch metadata of the result
            data = self._engine.values_frame(frame) if valued else frame
            base = self._run(source, data, suite, [configs[i] for i in valued], engine_params)
            results.extend(zip(valued, base["results"], strict=True))
        results.sort(key=lambda item: item[0])
        ordered = [result for _, result in results]
        outcomes = [ExpectationOutcome.from_result(result) for result in ordered]
        success = not any(outcome.blocking for outcome in outcomes)
        passed = sum(1 for outcome in outcomes if outcome.success)
        meta = dict(base.get("meta") or {})
        rows = self._engine.row_count(frame)
        meta["slipway"] = {
            "source": source,
            "gate_passed": success,
            "row_count": rows,
            "now": now.isoformat(),
            "suite": label,
            "engine": self._engine.name,
        }
        raw = {
            "success": passed == len(outcomes),
            "results": ordered,
            "suite_name": suite["name"],
            "suite_parameters": params,
            "statistics": {
                "evaluated_expectations": len(outcomes),
                "successful_expectations": passed,
                "unsuccessful_expectations": len(outcomes) - passed,
                "success_percent": 100.0 * passed / len(outcomes) if outcomes else None,
            },
            "meta": meta,
            "id": base.get("id"),
        }
        return SourceReport(
            source=source,
            success=success,
            row_count=rows,
            outcomes=outcomes,
            seconds=time.perf_counter() - started,
            raw=raw,
        )

    def _expectation(self, exp: dict[str, Any], index: int, label: str) -> Any:
        """Build the typed GX expectation, so a bad entry fails instead of being dropped."""
        from great_expectations.exceptions import GreatExpectationsError
        from great_expectations.expectations.expectation_configuration import (
            ExpectationConfiguration,
        )

        fields = {key: value for key, value in exp.items() if key != "id"}
        try:
            return ExpectationConfiguration(**fields).to_domain_obj()
        except (GreatExpectationsError, ValueError, TypeError) as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SuiteError(
                f"{label}: expectations[{index}] ({exp.get('type')}) is invalid: {message}"
            ) from exc

    def _run(
        self,
        source: str,
        frame: Any,
        suite: dict[str, Any],
        expectations: list[Any],
        params: dict[str, str],
    ) -> dict[str, Any]:
        """Validate ``frame`` against copies of ``expectations``; results in the given order."""
        from great_expectations.exceptions import GreatExpectationsError

        gx = self._gx
        batch = self._batches.get(source)
        if batch is None:
            asset = self._datasource.add_dataframe_asset(name=source)
            batch = self._batches[source] = asset.add_batch_definition_whole_dataframe(name=source)
        self._runs += 1
        name = f"{suite['name']}#{self._runs}"
        try:
            added = self._context.suites.add(
                gx.ExpectationSuite(
                    name=name,
                    expectations=[exp.copy() for exp in expectations],
                    meta=dict(suite.get("meta") or {}),
                    notes=suite.get("notes"),
                )
            )
            definition = self._context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=batch, suite=added)
            )
            result = definition.run(
                batch_parameters={"dataframe": frame},
                expectation_parameters=params,
                result_format="SUMMARY",
                run_id=self._run_id,
            )
        except GreatExpectationsError as exc:
            raise FeatureStoreError(f"{source}: Great Expectations failed: {exc}") from exc
        raw: dict[str, Any] = result.to_json_dict()
        position = {exp.id: i for i, exp in enumerate(added.expectations)}
        raw["results"].sort(key=lambda r: position[r["expectation_config"]["id"]])
        raw["suite_name"] = suite["name"]
        return raw


def _not_run(exp: dict[str, Any], missing: list[str], params: dict[str, str]) -> dict[str, Any]:
    """A failed GX-style result for an expectation whose column(s) the frame lacks."""
    config = {key: value for key, value in exp.items() if key != "id"}
    config["kwargs"] = _resolve(exp.get("kwargs") or {}, params)
    config.setdefault("meta", {})
    config.setdefault("severity", "critical")
    message = f"not run: column(s) {', '.join(missing)} missing from the data"
    return {
        "success": False,
        "expectation_config": config,
        "result": {},
        "meta": {},
        "exception_info": {
            "raised_exception": True,
            "exception_traceback": message,  # Data Docs needs a string here
            "exception_message": message,
        },
    }


def _resolve(value: Any, params: dict[str, str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$PARAMETER"}:
            return params.get(str(value["$PARAMETER"]), value)
        return {key: _resolve(item, params) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, params) for item in value]
    return value
