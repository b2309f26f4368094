"""The entry points: the `christmas-tasks` command line (cli.py, commands.py), the one Kestra step (kestra_step.py),
the settings read from the environment or the step's file (settings.py), Kestra's secret format (secrets_env.py),
the in-process demo (demo.py), the readers of what senders post (inbound/), and the composition root that builds
the ports from the settings (app.py): the one place that names both use cases and adapters."""
