"""The report: summary.md text and the figures."""
