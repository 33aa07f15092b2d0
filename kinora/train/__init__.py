"""Training: the diffusion transformer on cached VAE latents (`dit`), the video VAE itself
(`vae`), the data both train on (`data`) and what their loops share (`common`). The command
lines are `kinora train` and `kinora train-vae` (kinora.cli.train)."""
