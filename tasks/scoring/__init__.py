"""The official scorer's definitions, one module per kind of metric: plain functions of
predictions and gold values, shared by the task families and ``xsweep score``."""
