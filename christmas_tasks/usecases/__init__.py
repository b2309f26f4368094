"""The use cases: handle one event (handlers.py), send one scheduled email (sending.py), both on the Funnel
(funnel.py), and the campaign report (report/). They reach the world only through the ports (ports.py) and return
typed results (outcomes.py)."""
