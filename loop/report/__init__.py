"""What people read: the round table (console, report, benchmarks) and the HTML report."""

from loop.report.html import write_report
from loop.report.table import Table, round_table

__all__ = ["Table", "round_table", "write_report"]
