"""Adapters: the ports implemented on Notion (notion/), a SQLite file (sqlite/), Resend (resend/), an outbox folder
(outbox.py) and Discord (discord.py), and what they share: the retry rule (retry.py), the disk cache (cache.py),
atomic writes (files.py), secrets that never print (secret.py), the local template folder (template_files.py);
and Kestra's API, for `christmas-tasks deploy` (kestra_api.py). They import no use case: a port is a shape they
have, not a class they name."""
