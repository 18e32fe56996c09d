"""The state store: one SQLite file (.bakery/state.db) in WAL mode.

Each module here owns its tables and declares them in ``SCHEMA``; ``db.connect``
creates whatever is missing. A team backend can follow behind the same functions.
"""
