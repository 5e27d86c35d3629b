"""``python -m sciconv``: the ``sciconv`` command (:mod:`sciconv.cli`)."""

import sys

from .cli import main

sys.exit(main())
