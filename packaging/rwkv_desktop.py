"""Entry point of the frozen app (PyInstaller): the same as ``python -m app``."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from app.main import main

    sys.exit(main())
