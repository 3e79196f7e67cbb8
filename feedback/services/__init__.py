"""Units of work. Each takes the actor and ``now``, writes its audit event and outbox rows
in the same transaction as the change, and never touches the request or renders."""
