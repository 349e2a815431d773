"""``python -m chainrule``: the sine-fitting demo (chainrule/demo.py) until the training CLI lands."""

from chainrule.demo import main

if __name__ == "__main__":
    raise SystemExit(main())
