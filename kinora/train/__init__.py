"""Training: the DiT on cached VAE latents (`dit`), the VAE itself (`vae`)."""
