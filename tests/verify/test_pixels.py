import numpy as np

from kinora.verify.pixels import COLOR_NAMES, classify_pixels, label_components
from kinora.world.spec import COLORS


def test_pixels_palette_and_greys():
    shaded = (np.array([COLORS[c]["rgb"] for c in COLOR_NAMES]) * 255 * 0.7).astype(np.uint8)  # (6, 3)
    greys = np.array([[g, g, g] for g in (60, 126, 148, 200, 240, 255)], np.uint8)  # floor, shadow, sky
    cls = classify_pixels(np.stack([shaded, greys])[None])  # (1, 2, 6)
    assert cls[0, 0].tolist() == list(range(6))
    assert (cls[0, 1] == -1).all()


def test_components_match_a_flood_fill():
    rng = np.random.default_rng(0)
    cls = np.where(rng.random((2, 12, 12)) < 0.55, rng.integers(0, 2, (2, 12, 12)), -1).astype(np.int8)
    lab = label_components(cls)
    # Same partition as a plain flood fill.
    for f in range(2):
        seen = np.full((12, 12), -1)
        k = 0
        for y in range(12):
            for x in range(12):
                if cls[f, y, x] < 0 or seen[y, x] >= 0:
                    continue
                stack = [(y, x)]
                seen[y, x] = k
                while stack:
                    a, b = stack.pop()
                    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                        yy, xx = a + dy, b + dx
                        if 0 <= yy < 12 and 0 <= xx < 12 and seen[yy, xx] < 0 and cls[f, yy, xx] == cls[f, a, b]:
                            seen[yy, xx] = k
                            stack.append((yy, xx))
                k += 1
        pairs = set(zip(seen[cls[f] >= 0].tolist(), lab[f][cls[f] >= 0].tolist()))
        assert len(pairs) == k == len(np.unique(lab[f][lab[f] >= 0]))
