"""``python -m asl_runner {lint,exec} ...``"""

import sys

from .cli import main

sys.exit(main())
