"""``python3 -m lain_router``: the router's watcher and nginx, until SIGTERM."""

import sys

from lain_router.watch import main

sys.exit(main())
