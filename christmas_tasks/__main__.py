import sys

from christmas_tasks.entrypoints.cli import main

sys.exit(main())
