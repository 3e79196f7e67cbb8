"""WSGI entry point: ``gunicorn -w 2 -b 127.0.0.1:8000 wsgi:app``.

With several workers, set FEEDBACK_SCHEDULER=off and run ``flask --app feedback
scheduler`` as its own process (each worker would otherwise start its own scheduler:
harmless, since every job is idempotent in the database, but wasteful)."""

from feedback import create_app

app = create_app()
