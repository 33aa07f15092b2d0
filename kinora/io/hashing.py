"""Content hashes of files: checkpoint identities and the VAE a DiT was trained with."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: str | Path) -> str:
    """The file's SHA-256, hex, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_hash(path: str | Path) -> str:
    """The short form recorded in checkpoints (`vae_hash`) and used to name latent caches."""
    return sha256_file(path)[:16]
