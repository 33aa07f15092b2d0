"""Shared pieces for the label tests: synthetic scenes, a provenance, an independent
MP4 tag reader, and a private C2PA root CA with a leaf certificate made on the fly."""

from __future__ import annotations

import datetime
import struct
from pathlib import Path

import numpy as np
import pytest

from kinora.label import Provenance


def make_scene(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A micro-world-like frame (H, W, 3) uint8: white sky, checkered grey floor,
    a few saturated balls and boxes."""
    r = np.random.default_rng(seed)
    f = np.full((h, w, 3), 245, np.uint8)
    horizon = int(h * r.uniform(0.3, 0.6))
    yy, xx = np.mgrid[:h, :w]
    f[horizon:] = 128
    f[((xx // max(1, w // 10) + yy // max(1, h // 12)) % 2 == 0) & (yy >= horizon)] = 100
    for k in range(3):
        cy, cx, rad = r.uniform(0.3, 0.9) * h, r.uniform(0, 1) * w, r.uniform(0.05, 0.2) * h
        m = (abs(yy - cy) < rad) & (abs(xx - cx) < rad) if k % 2 else (yy - cy) ** 2 + (xx - cx) ** 2 < rad ** 2
        f[m] = r.integers(0, 256, 3)
    return f


def make_clip(t: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """(T, H, W, 3) uint8: the scene with a ball drifting right, so frames differ."""
    base = make_scene(h, w, seed)
    out = np.repeat(base[None], t, axis=0)
    yy, xx = np.mgrid[:h, :w]
    for i in range(t):
        cx, cy, rad = w * (0.2 + 0.6 * i / max(1, t - 1)), h * 0.75, h * 0.08
        out[i][(yy - cy) ** 2 + (xx - cx) ** 2 < rad ** 2] = (220, 30, 30)
    return out


@pytest.fixture
def prov() -> Provenance:
    return Provenance(model="kinora-test", checkpoint_sha256="ab" * 32, seed=7,
                      prompt="一个红球向右滚 a red ball rolls right", truth_mode="story", task="t2v")


# ---------------------------------------------------------------------------------
# An MP4 tag reader that shares no code with PyAV/ffmpeg: it walks the boxes itself.
# ---------------------------------------------------------------------------------

def _boxes(buf: bytes, start: int, end: int):
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", buf[pos:pos + 8])
        head = 8
        if size == 1:
            size, head = struct.unpack(">Q", buf[pos + 8:pos + 16])[0], 16
        elif size == 0:
            size = end - pos
        yield kind.decode("latin-1"), pos + head, pos + size
        pos += size


def read_mdta_tags(path: Path) -> dict[str, str]:
    """The moov/udta/meta mdta tags (keys + ilst), as written with use_metadata_tags."""
    buf = Path(path).read_bytes()
    children = lambda s, e: {k: (a, b) for k, a, b in _boxes(buf, s, e)}  # noqa: E731
    moov = children(0, len(buf))["moov"]
    udta = children(*moov)["udta"]
    meta_start, meta_end = children(*udta)["meta"]
    # `meta` is a full box: 4 bytes of version and flags before its children
    # (QuickTime writers omit them; detect by looking for a plausible child type).
    if buf[meta_start + 4:meta_start + 8] != b"hdlr":
        meta_start += 4
    meta = children(meta_start, meta_end)
    hs, _ = meta["hdlr"]
    assert buf[hs + 8:hs + 12] == b"mdta", "meta handler is not mdta"
    ks, ke = meta["keys"]
    count = struct.unpack(">I", buf[ks + 4:ks + 8])[0]
    keys, pos = [], ks + 8
    for _ in range(count):
        size, ns = struct.unpack(">I4s", buf[pos:pos + 8])
        assert ns == b"mdta"
        keys.append(buf[pos + 8:pos + size].decode("utf-8"))
        pos += size
    tags = {}
    for kind, s, e in _boxes(buf, *meta["ilst"]):
        index = struct.unpack(">I", kind.encode("latin-1"))[0]  # 1-based key index
        for dk, ds, de in _boxes(buf, s, e):
            if dk == "data":
                tags[keys[index - 1]] = buf[ds + 8:de].decode("utf-8")  # skip type + locale
    return tags


# ---------------------------------------------------------------------------------
# A private root CA and a leaf certificate for C2PA signing
# ---------------------------------------------------------------------------------

def _make_chain(folder: Path) -> tuple[Path, Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kinora Test")])

    def usage(ca):
        return x509.KeyUsage(digital_signature=True, key_cert_sign=ca, crl_sign=ca, content_commitment=False,
                             key_encipherment=False, data_encipherment=False, key_agreement=False,
                             encipher_only=False, decipher_only=False)

    root_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    validity = dict(not_valid_before=now - datetime.timedelta(days=1),
                    not_valid_after=now + datetime.timedelta(days=30))
    root = (x509.CertificateBuilder(subject_name=name("Kinora Test Root CA"), issuer_name=name("Kinora Test Root CA"),
                                    public_key=root_key.public_key(), serial_number=x509.random_serial_number(),
                                    **validity)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(usage(True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder(subject_name=name("Kinora Test Signer"), issuer_name=root.subject,
                                    public_key=leaf_key.public_key(), serial_number=x509.random_serial_number(),
                                    **validity)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage(False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    chain, key, selfsigned = folder / "chain.pem", folder / "leaf.key", folder / "root_only.pem"
    chain.write_bytes(leaf.public_bytes(pem) + root.public_bytes(pem))
    key.write_bytes(leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    selfsigned.write_bytes(root.public_bytes(pem))
    (folder / "root.key").write_bytes(
        root_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return chain, key, selfsigned


@pytest.fixture(scope="session")
def c2pa_chain(tmp_path_factory):
    """(chain.pem = leaf + root, leaf.key, root_only.pem = a self-signed certificate)."""
    return _make_chain(tmp_path_factory.mktemp("c2pa"))


@pytest.fixture
def scene():
    return make_scene


@pytest.fixture
def clip():
    return make_clip


@pytest.fixture
def mdta_tags():
    return read_mdta_tags
