"""``python -m bot`` is ``hapbot``."""

import sys

from .cli import main

sys.exit(main())
