"""The state store: builds, verifications, the rollout journal, patches and locks.

SQLite (.bakery/state.db, WAL) by default; PostgreSQL for a team (a state URL: BAKERY_STATE or
``state:`` in bakery.yaml). ``db.connect`` / ``db.open_store`` give one ``Connection`` interface
for both; ``migrations`` holds the one numbered schema history. See docs/state.md.
"""
