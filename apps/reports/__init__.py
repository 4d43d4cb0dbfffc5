"""Compliance reports: the report page with charts and tables, CSV exports and
/api/reports/compliance/, all computed in the database from handoffs.compliance. Owns no
models."""
