"""Rectified flow and its samplers, and the tasks as data: pixel masks of what is known,
their latent masks, and the windows of long clips."""
