"""``python -m robustloss.cli ...`` = ``robustloss ...``."""

import sys

from robustloss.cli import main

sys.exit(main())
