"""Tests of kinora.models (VAE, DiT, text encoder, the preset registry)."""
