"""Verification: the analyzer reads a video (pixels, shapes, detections, camera, tracks) and
`compare` checks it against the ShotSpec it was made from; `validate` measures the analyzer
against the simulator's ground truth."""
