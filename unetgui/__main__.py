"""``python -m unetgui`` is the same as the ``unetgui`` command."""

import sys

from unetgui.cli import main

sys.exit(main())
