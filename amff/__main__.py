"""python -m amff ..."""

from amff.cli import main

raise SystemExit(main())
