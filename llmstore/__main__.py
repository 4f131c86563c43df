"""``python -m llmstore``: the command line."""

from llmstore.cli import main

raise SystemExit(main())
