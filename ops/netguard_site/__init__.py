"""Not imported: this folder goes first on ``PYTHONPATH`` of the Python children proofyard
starts, so that its ``sitecustomize`` puts the network policy in force in each of them."""
