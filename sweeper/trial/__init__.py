"""The Tune trial: its spec, its trainable, how its stage is placed on Ray Train workers, and how its
faults are told apart. Imports ``plan``, ``record``, ``resources`` and ``train``.
"""
