"""Reports: summary.json and the console table."""

from perf_tests.reports.console import format_summary_table
from perf_tests.reports.summary import SCHEMA_VERSION, SUMMARY_FILE_NAME, build_summary, write_summary

__all__ = ["SCHEMA_VERSION", "SUMMARY_FILE_NAME", "build_summary", "format_summary_table", "write_summary"]
