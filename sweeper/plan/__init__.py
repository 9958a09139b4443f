"""What a sweep is and what it decides: the spec, the scales, the plan of cells and studies, and the DAG of
decisions over them. Plain data and functions: no Ray, no MLflow, no Optuna.
"""
