"""The domain: what the funnel is about, with no I/O and no clock of its own (time is passed in).

Event kinds (events/, each described once), their fields (fields.py), the sequence catalogue (catalogue.py) and its
planner (planning.py), segments (routing.py), template variables and rendering (variables.py, rendering.py), the
records that cross the ports (records.py), the keys that make sending idempotent (keys.py), the vocabulary of
statuses and reasons (vocabulary.py), duplicate contacts made one (duplicates.py), and the errors (errors.py).
It imports nothing of the other layers (pyproject.toml's import contract).
"""
