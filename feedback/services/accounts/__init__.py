"""Accounts: staff users, their tokens, and the audit log of what they did."""
