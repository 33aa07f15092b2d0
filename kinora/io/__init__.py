"""Files: video (PyAV), still images, user text files, atomic writes and output claims, hashing."""
