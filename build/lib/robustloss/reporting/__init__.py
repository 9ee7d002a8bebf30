"""Reporting: records -> the paper's tables and figures, label-issue lists, the paper's
published numbers."""
