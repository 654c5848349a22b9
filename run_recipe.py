#!/usr/bin/env python
"""Run systems on Cadenza recipes: `python run_recipe.py cad2 --system ensemble`."""

import sys

from harness.cli import main

if __name__ == "__main__":
    sys.exit(main())
