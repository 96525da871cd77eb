"""``python -m services.inference``: serve a model bundle (see :mod:`services.inference.runner`)."""

from services.inference.runner import main

if __name__ == "__main__":
    raise SystemExit(main())
