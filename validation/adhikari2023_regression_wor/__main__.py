import sys

from .._runner import main

sys.exit(main("adhikari2023_regression_wor"))
