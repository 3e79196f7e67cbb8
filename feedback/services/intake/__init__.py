"""Intake: every way a case comes in (web form, API, 1022 desk and batches, suggestion boxes),
its files, duplicate hints and the sealing of identities."""
