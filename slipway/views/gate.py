"""How the data gate's reports look in a terminal: one table, one verdict line per source."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from feature_store.gate import ExpectationOutcome, SourceReport, unexpected_text


def render_table(reports: list[SourceReport], *, failures_only: bool = False) -> Table:
    """A per-expectation pass/fail table; with ``failures_only`` passed rows are left out."""
    passed = sum(1 for report in reports if report.success)
    table = Table(
        title=f"Data gate: {passed} of {len(reports)} source(s) passed",
        title_justify="left",
        show_lines=False,
    )
    table.add_column("Source", no_wrap=True)
    table.add_column("Expectation", no_wrap=True, overflow="ellipsis")
    table.add_column("Column", overflow="fold")
    table.add_column("Severity", no_wrap=True)
    table.add_column("Result", no_wrap=True)
    table.add_column("Unexpected", justify="right", no_wrap=True)
    table.add_column("Observed", overflow="fold", ratio=1)
    for report in reports:
        shown = [o for o in report.outcomes if not (failures_only and o.success)]
        ok = sum(1 for outcome in report.outcomes if outcome.success)
        label = Text(report.source, style="bold green" if report.success else "bold red")
        if not shown:
            summary = f"all {len(report.outcomes)} passed"
            table.add_row(label, Text(summary, style="green"), "", "", "", "", "")
        for row, outcome in enumerate(shown):
            table.add_row(
                label if row == 0 else "",
                Text(outcome.expectation.removeprefix("expect_")),
                Text(outcome.column or ""),
                Text(outcome.severity, style="yellow" if outcome.severity != "critical" else ""),
                _status(outcome),
                Text(unexpected_text(outcome)),
                Text(outcome.observed or "", style="dim"),
            )
        summary = f"{ok}/{len(report.outcomes)} passed, {report.row_count:,} rows"
        table.add_row("", Text(f"{summary}, {report.seconds:.2f}s", style="dim"), *[""] * 5)
        table.add_section()
    return table


def verdict_lines(reports: list[SourceReport]) -> list[Text]:
    """One PASS/FAIL line per source, each failed expectation indented below its source."""
    lines: list[Text] = []
    for report in reports:
        if report.success:
            warned = len(report.warnings())
            note = f" ({warned} warning(s))" if warned else ""
            lines.append(Text(f"PASS {report.source}{note}", style="green"))
        else:
            failures = report.failures()
            verdict = f"FAIL {report.source}: {len(failures)} failed expectation(s)"
            lines.append(Text(verdict, style="bold red"))
            lines.extend(Text(f"  - {line}", style="red") for line in failures)
    return lines


def print_reports(
    reports: list[SourceReport], console: Console, *, failures_only: bool = False
) -> None:
    """Print the table of :func:`render_table` and one PASS/FAIL line per source."""
    console.print(render_table(reports, failures_only=failures_only))
    for line in verdict_lines(reports):
        console.print(line)


def print_gate_summary(reports: list[SourceReport], console: Console) -> None:
    """One line per source when everything passed; the failed expectations otherwise."""
    if all(r.success for r in reports):
        for r in reports:
            console.print(
                f"[green]PASS[/green] {r.source}: {len(r.outcomes)} expectations, "
                f"{r.row_count:,} rows, {r.seconds:.2f}s"
            )
    else:
        print_reports(reports, console, failures_only=True)


def _status(outcome: ExpectationOutcome) -> Text:
    if outcome.success:
        return Text("pass", style="green")
    if outcome.blocking:
        return Text("FAIL", style="bold red")
    return Text("warn", style="bold yellow")
