"""MLflow as xsweep writes it: run tags, the buffered tracked run, provenance, dataset inputs, system
metrics and where the stores live. Imports only ``sweeper.plan``.
"""
