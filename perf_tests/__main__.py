"""``python -m perf_tests``: see ``perf_tests.cli``."""

import sys

from perf_tests.cli import main

sys.exit(main())
