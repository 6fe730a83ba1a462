import sys

from .._runner import main

sys.exit(main("grid_vs_sgd"))
