"""What a sweep's runs say: Δ analysis, the report and its plots, status, compare and scoring. Imports
``plan``, ``record`` and ``resources``.
"""
