"""``python -m chainrule``: the same command line as ``chainrule`` (train, evaluate, demo)."""

from chainrule.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
