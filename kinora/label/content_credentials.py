"""C2PA Content Credentials: sign a generated MP4, and read a manifest back.

Optional: it runs when the user gives a certificate chain and a private key
(`LabelConfig.c2pa_cert`, `c2pa_key`), and needs the `c2pa-python` package (extra
`kinora[c2pa]`). Signing is offline: no timestamp authority, no network.

The manifest follows the C2PA spec for generative output: a `c2pa.actions` assertion
whose first action is `c2pa.created` with digitalSourceType
http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia, plus Kinora's
provenance record as a custom assertion `org.kinora.provenance`. The chain must be a
leaf certificate followed by the CA that issued it; c2pa refuses a self-signed leaf.
The signing algorithm follows the key: EC P-256/384/521 -> ES256/384/512, Ed25519 ->
Ed25519, RSA -> PS256.

Reading needs only the file; a manifest signed by a private CA validates ("Valid")
but is reported untrusted unless that CA is in the reader's trust list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kinora.errors import KinoraError

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
PROVENANCE_ASSERTION = "org.kinora.provenance"


def available() -> bool:
    try:
        import c2pa  # noqa: F401
    except Exception:  # ImportError, or a missing native library
        return False
    return True


def _import_c2pa():
    try:
        import c2pa
    except Exception as e:
        raise KinoraError(
            f"C2PA signing was asked for but c2pa-python cannot be loaded ({type(e).__name__}: {e}); "
            "install it with: pip install 'kinora[c2pa]'") from None
    return c2pa


def _read_pem(path: str, what: str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise KinoraError(f"cannot read the C2PA {what} {path}: {e.strerror or e}") from None
    if b"-----BEGIN" not in data:
        raise KinoraError(f"the C2PA {what} {path} is not a PEM file")
    return data


def _algorithm(key_pem: bytes, key_path: str) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as e:
        raise KinoraError(f"cannot load the C2PA private key {key_path} (it must be unencrypted PEM): {e}") from None
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algs = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name not in algs:
            raise KinoraError(f"C2PA needs an EC key on P-256, P-384 or P-521, got {key.curve.name}")
        return algs[key.curve.name]
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    raise KinoraError(f"unsupported C2PA key type {type(key).__name__}; use EC P-256, Ed25519 or RSA")


def manifest_definition(title: str, provenance: dict[str, Any]) -> dict[str, Any]:
    from kinora import __version__

    return {
        "claim_generator_info": [{"name": "kinora", "version": __version__}],
        "title": title,
        "format": "video/mp4",
        "assertions": [
            {"label": "c2pa.actions",
             "data": {"actions": [{"action": "c2pa.created",
                                   "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                                   "softwareAgent": {"name": "kinora", "version": __version__}}]}},
            {"label": PROVENANCE_ASSERTION, "data": provenance},
        ],
    }


def sign_mp4(src: Path, dst: Path, cert_path: str, key_path: str, provenance: dict[str, Any], title: str) -> None:
    """Copy MP4 `src` to `dst` with a signed C2PA manifest embedded."""
    c2pa = _import_c2pa()
    cert = _read_pem(cert_path, "certificate chain")
    key = _read_pem(key_path, "private key")
    alg = _algorithm(key, key_path)
    try:
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(alg, cert, key, None))
        with signer, c2pa.Builder(manifest_definition(title, provenance)) as builder:
            with open(src, "rb") as s, open(dst, "w+b") as d:
                builder.sign(signer, "video/mp4", s, d)
    except c2pa.C2paError as e:
        raise KinoraError(
            f"C2PA signing failed: {e} (the chain must be a leaf certificate followed by its CA, "
            "not a self-signed certificate, and must match the key)") from None


def read_manifest(path: Path) -> dict[str, Any]:
    """What the file's C2PA manifest says. Always returns a dict with `present`."""
    if not available():
        return {"present": None, "note": "c2pa-python is not installed; C2PA not checked"}
    import c2pa

    try:
        with c2pa.Reader(str(path)) as reader:
            active = reader.get_active_manifest() or {}
            state = reader.get_validation_state()
            results = reader.get_validation_results() or {}
    except c2pa.C2paError as e:
        text = str(e)
        if "ManifestNotFound" in type(e).__name__ or "no JUMBF" in text or "not found" in text.lower():
            return {"present": False}
        return {"present": True, "error": text.splitlines()[0] if text else type(e).__name__}
    actions, source_type, kinora = [], None, None
    for a in active.get("assertions", []):
        label = a.get("label", "")
        if label.startswith("c2pa.actions"):
            for act in a.get("data", {}).get("actions", []):
                actions.append(act.get("action"))
                source_type = source_type or act.get("digitalSourceType")
        elif label == PROVENANCE_ASSERTION:
            kinora = a.get("data")
    failures = [f.get("code") for f in results.get("activeManifest", {}).get("failure", [])]
    sig = active.get("signature_info", {})
    return {
        "present": True,
        "validation_state": state,
        "failures": failures,
        "actions": actions,
        "digital_source_type": source_type,
        "signer": {"issuer": sig.get("issuer"), "common_name": sig.get("common_name"), "alg": sig.get("alg")},
        "claim_generator": [g.get("name") for g in active.get("claim_generator_info", [])],
        "kinora_provenance": kinora,
    }
