"""The micro-world: ShotSpec (the plan of a shot), the pybullet simulator that renders any
spec with its ground truth, English and Chinese captions, and the data engine."""
