"""Rehearsals of a cluster sweep: a stand-in trainable that sleeps where training would be, and Ray's
fake autoscaling cluster on loopback. Imports ``launch`` and below.
"""
