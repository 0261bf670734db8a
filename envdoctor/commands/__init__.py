"""One module per subcommand; each exposes register(subparsers). See envdoctor/cli.py."""
