"""Orchestration: what runs where and what is recorded.

spec (what was asked) → plan (studies and cells) → search (one Tuner, Optuna behind a
DAG-aware searcher) → placement (in the Tune trial, or on Ray Train workers) → trial
(fine-tune, evaluate, track) → report.

Nothing is imported here: each module pulls in only what it needs, so that listing and
planning stay fast and a Train worker or a GPU check imports no tracking or Tune code.
"""
