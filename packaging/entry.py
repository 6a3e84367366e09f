"""The bundle's executable: ``unetgui`` with no argument or an image opens the window;
with a subcommand (``train``, ``predict``, ...) or ``--self-test`` it is the command line."""

import sys

from unetgui.cli import main

if __name__ == "__main__":
    sys.exit(main())
