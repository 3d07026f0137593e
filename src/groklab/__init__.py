"""groklab: train, measure and explain grokking on group arithmetic.

The package follows the data flow: groups -> tasks -> models/optim/losses -> train -> li2 analysis
-> sweep/store -> report/cli. Lower layers never import higher ones.
"""

__version__ = "0.1.0"
