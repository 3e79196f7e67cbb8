"""Gunicorn settings for the web service (deploy/feedback-web.service runs
``gunicorn -c deploy/gunicorn.conf.py wsgi:app``).

- ``preload_app``: the app is built once in the master before forking, so a bad
  configuration stops the service at start (not in each worker at its first request) and
  the workers share the loaded code's memory.
- Bound to 127.0.0.1 only: nginx (deploy/nginx-feedback.conf) is the one way in, which is
  what TRUSTED_PROXIES=1 assumes; nobody may reach gunicorn around it.
- ``workers`` comes from WEB_WORKERS, the same variable ``flask --app feedback check``
  reads to require REDIS_URL when there is more than one (memory rate limits are per
  process).
- ``timeout`` stays above DATABASE_STATEMENT_TIMEOUT_MS (30 s), so a request stuck behind
  a lock answers 503 with Retry-After before its worker is killed.
- The scheduler is its own unit (feedback-scheduler.service); FEEDBACK_SCHEDULER=off in
  the environment file keeps it out of the workers.
"""

import os

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_WORKERS", "2"))
worker_class = "sync"
preload_app = True
timeout = 60
graceful_timeout = 30
keepalive = 5
# A worker is replaced after this many requests (with jitter, not all at once), so a slow
# leak cannot grow forever.
max_requests = 2000
max_requests_jitter = 200
# Request lines and headers: generous for cookies, far below anything abusive.
limit_request_line = 8190
limit_request_fields = 100
accesslog = "-"
errorlog = "-"
loglevel = "info"
# nginx gives the client's address in X-Forwarded-For; the app believes it through
# TRUSTED_PROXIES (werkzeug ProxyFix), not through gunicorn.
forwarded_allow_ips = "127.0.0.1"
proxy_allow_ips = "127.0.0.1"
