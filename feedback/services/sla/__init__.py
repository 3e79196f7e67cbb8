"""SLA enforcement: the sweep that records warnings and breaches, the messages it causes, their
delivery and the morning digest."""
