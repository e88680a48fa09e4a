"""The spinemets service: FastAPI app, settings, storage, audit log, authentication.

Import :func:`spinemets.service.app.create_app` to build the ASGI app; this package needs the
``api`` extra (FastAPI, SQLAlchemy, Alembic, pydantic-settings). Settings are read only here,
at the edge: the library itself never reads environment variables.
"""
