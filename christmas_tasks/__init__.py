"""Christmas campaign email funnel: the business logic that the Kestra flows call.

Importing the package is kept light on purpose (every Kestra Python task is a new process):
submodules import their dependencies themselves, so `import christmas_tasks` loads nothing else.
"""

__version__ = "0.1.0"
