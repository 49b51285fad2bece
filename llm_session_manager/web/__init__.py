"""`lsm serve`: the web dashboard, a front end over ``llm_session_manager.api``.

``app.build_app`` makes the Starlette application: server-rendered pages (``pages``), the ``/api`` JSON
documents (the same as `lsm … --format json`), live row updates over Server-Sent Events (``live``) and
the guard in front of all of it (``security``). Static assets are files of this package, served by name.
"""
