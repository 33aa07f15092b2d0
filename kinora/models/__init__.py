"""The model stack: the causal video VAE, the diffusion transformer, the frozen text
encoder, and the one registry of their sizes and defaults (`presets`)."""
