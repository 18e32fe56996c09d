"""Signed evidence: in-toto Statements in DSSE envelopes, signed with the project's ed25519 key."""
