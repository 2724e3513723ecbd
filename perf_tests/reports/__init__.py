"""Reports: ``summary.json`` (and its JSON Schema), ``summary.csv``, ``report.html`` and the console table.

``summary`` builds the summary at the end of a run (its models: ``perf_tests.results``), ``csv_report``
and ``html_report`` write the spreadsheet and the self-contained page (timelines from ``events.jsonl``
via ``timeline`` and ``replay``), ``rebuild`` writes them all at the end of a run and rebuilds them
afterwards, even from ``events.jsonl`` alone; ``console`` prints the table.
"""

from perf_tests.reports.console import format_summary_table
from perf_tests.reports.csv_report import CSV_FILE_NAME, summary_csv, write_summary_csv
from perf_tests.reports.html_report import HTML_FILE_NAME, render_html, write_html_report
from perf_tests.reports.rebuild import (
    RUN_FILE_NAME,
    ReportFiles,
    rebuild_reports,
    summary_from_events,
    write_reports,
    write_run_file,
)
from perf_tests.reports.schema import summary_json_schema, validate_summary
from perf_tests.reports.summary import SUMMARY_FILE_NAME, EntryInput, RunInput, build_summary, write_summary
from perf_tests.reports.timeline import Timelines, build_timelines

__all__ = [
    "CSV_FILE_NAME",
    "HTML_FILE_NAME",
    "RUN_FILE_NAME",
    "SUMMARY_FILE_NAME",
    "EntryInput",
    "ReportFiles",
    "RunInput",
    "Timelines",
    "build_summary",
    "build_timelines",
    "format_summary_table",
    "rebuild_reports",
    "render_html",
    "summary_csv",
    "summary_from_events",
    "summary_json_schema",
    "validate_summary",
    "write_html_report",
    "write_reports",
    "write_run_file",
    "write_summary",
    "write_summary_csv",
]
