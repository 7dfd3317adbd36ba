"""``python -m fluxjax``: the ``fluxjax`` command."""

import sys

from .cli import main


sys.exit(main())
