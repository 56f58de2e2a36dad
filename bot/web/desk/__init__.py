"""The HR desk: a web app under ``/desk/`` in the bot's own web server.

``signin`` (enrolment, login, logout), ``sessions`` (who a request is), ``security`` (the gate every
desk request passes: session, CSRF, security headers) and ``mount`` (putting it together). The
case pages add their routes through :func:`bot.web.desk.mount.build_desk`.
"""
