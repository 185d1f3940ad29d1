"""`python -m data_platform` is the same as the `data-platform` command."""

from data_platform.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
