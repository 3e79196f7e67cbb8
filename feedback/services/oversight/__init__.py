"""Oversight: the breach monitor, the dashboard's figures and their rollups, staff search,
exports and redaction for publication."""
