"""``python -m kronvec``: the command line (see :mod:`kronvec.cli`)."""
import sys

from kronvec.cli import main

if __name__ == "__main__":
    sys.exit(main())
