"""Alembic environment: runs on the connection that :func:`spinemets.service.db.migrate` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from spinemets.service.schema import Base

config = context.config
connection = config.attributes.get("connection")

if connection is None:  # the alembic command line: alembic -x url=... upgrade head
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    engine = create_engine(str(url))
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
