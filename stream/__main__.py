"""`python -m ganstream.stream` runs the CLI."""

import sys

from ganstream.stream.cli import main

sys.exit(main())
