"""What a trial asks for and what a sweep costs: hardware, calibration, padding, packing onto GPUs, the
cost plan, a trial's placement, and the cluster's capacity. Imports only ``sweeper.plan``.
"""
