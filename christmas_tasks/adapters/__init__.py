"""Adapters: the ports implemented on Notion, Resend, a SQLite file and an outbox folder."""
