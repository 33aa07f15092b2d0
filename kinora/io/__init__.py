"""Files: video (PyAV), still images, atomic writes and output claims, hashing."""
