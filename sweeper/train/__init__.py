"""The fine-tuning stage: transformers and torch only (the Trainer, inference, resume checkpoints, the
pretrained encoders). Imports only ``sweeper.plan``.
"""
