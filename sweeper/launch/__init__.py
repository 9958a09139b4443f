"""Starting a sweep: preflight, the launch lock, the Tune searcher and its Optuna studies, the trial
specs, and the launch itself. Imports every group below it.
"""
