"""``python -m ganstream.training`` (and ``torchrun -m ganstream.training``)."""

import sys

from ganstream.training.cli import main

sys.exit(main())
