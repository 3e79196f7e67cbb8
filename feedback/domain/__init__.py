"""Pure domain core: the working-day calendar, SLA deadline arithmetic, routing and the
case state machine.

It imports neither Flask nor SQLAlchemy so that the rules the service promises citizens
(24 hours to acknowledge, 6 working days to answer, who answers what) can be unit-tested
alone and reused by the web app, the CLI and the scheduler alike. Submodules are not
imported here on purpose: importing the package must stay cheap and free of side effects.
"""
