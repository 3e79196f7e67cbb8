"""Handling: the moves of a case through its states, the deadlines they derive, the citizen's
follow-up, apology letters, and who may see which case."""
