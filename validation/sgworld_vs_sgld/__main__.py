import sys

from .._runner import main

sys.exit(main("sgworld_vs_sgld"))
