import sys

from christmas_tasks.cli import main

sys.exit(main())
