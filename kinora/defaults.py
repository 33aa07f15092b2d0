"""The numbers every stage shares, once.

Model sizes and their training and sampling defaults live in the one preset registry
(`kinora.models.presets`); what is here cuts across stages: how long a shot is when
nobody says, the longest clip Kinora makes, how much context a long clip's windows
share, which world seeds are kept apart for evaluation, and where the shipped weights
are. Everything else imports these names instead of repeating the values.
"""

from __future__ import annotations

from pathlib import Path

# --- shots -------------------------------------------------------------------------
DEFAULT_SECONDS = 2.0  # a shot's length when the prompt, the spec or the caller gives none
MAX_SECONDS = 600.0  # ten minutes: the longest single shot; longer films are sequences of shots
MAX_FPS = 60
MAX_STEPS = 1000  # sampling steps a call may ask for
MAX_GUIDANCE = 30.0  # the largest classifier-free guidance scale accepted
SHOWCASE_SECONDS = 4.0  # what `kinora demo` and `kinora world render` make when not told
SEQUENCE_GAP_S = 1.0  # "one after another": seconds between starts (less when the shot is short)

# --- long clips ----------------------------------------------------------------------
CONTEXT_FRAMES = 9  # frames each window after the first repeats from the one before
MIN_WINDOW = 5  # the smallest generation window: a lone first frame and one group of 4

# --- seeds -------------------------------------------------------------------------
HELDOUT_SEED_BASE = 10_000_000  # world seeds >= this are never trained on (analyzer validation uses BASE + i)
EVAL_SEED0 = HELDOUT_SEED_BASE + 1_000_000  # the held-out prompt suite's seeds start here
MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed takes a signed 64-bit seed

# --- the shipped weights (package data: found without a repository checkout) --------
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_PRESET = "small"


def dit_filename(preset: str, ema: bool = True) -> str:
    """How a DiT checkpoint of a preset is named in a weights or run folder."""
    return f"dit-{preset}{'-ema' if ema else ''}.safetensors"


def vae_filename(vae_name: str) -> str:
    """How a VAE checkpoint of a VAE preset is named in a weights or run folder."""
    return f"vae-{vae_name}.safetensors"


def physics_filename(preset: str) -> str:
    """The companion checkpoint that reads the physics signal, beside a free one in a weights folder."""
    return f"dit-{preset}-physics-ema.safetensors"


SHIPPED_DIT = WEIGHTS_DIR / dit_filename(DEFAULT_PRESET)  # the EMA weights generation loads by default
SHIPPED_VAE = WEIGHTS_DIR / vae_filename(DEFAULT_PRESET)  # the VAE the shipped DiT decodes with
# The guided 10-step model the shipped one was distilled from (kinora distill's default teacher,
# the base for fine-tunes); `--model kinora/weights/teacher` samples with it.
SHIPPED_TEACHER = WEIGHTS_DIR / "teacher" / dit_filename(DEFAULT_PRESET)
