"""The registry's TLS: a CA bakery makes once and keeps under ``.bakery/registry/``, and a
server certificate it signs for the names the hosts use to reach the registry.

Why a CA of bakery's own rather than a self-signed server certificate: hosts trust the CA
once (``/etc/docker/certs.d/<host:port>/ca.crt``) and keep trusting the registry when its
certificate is re-issued for a new name. The CA key never leaves this machine.

``make_ca``/``issue`` are pure given a key (unit tests); ``ensure`` does the files.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
SERVER_DAYS = 397  # what browsers accept; docker does not care, but a short life is a good habit
RENEW_BEFORE = dt.timedelta(days=30)
LOCAL_NAMES = ("localhost", "127.0.0.1")  # where this machine's engine pushes to


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    ca_key: Path
    cert: Path
    key: Path


def tls_dir(state_dir: Path) -> Path:
    return state_dir / "registry"


def files(state_dir: Path) -> TlsFiles:
    d = tls_dir(state_dir)
    return TlsFiles(d / "ca.crt", d / "ca.key", d / "server.crt", d / "server.key")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def make_ca(key: ec.EllipticCurvePrivateKey, name: str = "bakery registry CA",
            now: dt.datetime | None = None) -> x509.Certificate:
    """A CA certificate that may sign server certificates only (path length 0)."""
    now = now or _now()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))


def san_entries(names: list[str] | tuple[str, ...]) -> list[x509.GeneralName]:
    """An IP address becomes an IP SAN (docker checks IPs against those only), the rest DNS."""
    out: list[x509.GeneralName] = []
    for name in dict.fromkeys(names):
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name.strip("[]"))))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def issue(ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, key: ec.EllipticCurvePrivateKey,
          names: list[str] | tuple[str, ...], now: dt.datetime | None = None) -> x509.Certificate:
    """A server certificate for ``names`` (the first is the common name), signed by the CA."""
    now = now or _now()
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
            .add_extension(x509.SubjectAlternativeName(san_entries(names)), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))


def covers(cert: x509.Certificate, names: list[str] | tuple[str, ...], ca_cert: x509.Certificate,
           now: dt.datetime | None = None) -> bool:
    """Does ``cert`` still serve: signed by this CA, every name in its SANs, not about to expire."""
    now = now or _now()
    if cert.issuer != ca_cert.subject or cert.not_valid_after_utc - RENEW_BEFORE < now:
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, Exception):  # noqa: BLE001 - any failure means "not ours"
        return False
    have = set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    return set(san_entries(names)) <= have


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def ensure(state_dir: Path, names: list[str] | tuple[str, ...]) -> tuple[TlsFiles, bool]:
    """The CA (made once, kept) and a server certificate covering ``names`` plus this machine's
    loopback names; (files, whether the server certificate was (re)issued now)."""
    f = files(state_dir)
    f.ca_cert.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(f.ca_cert.parent, 0o700)
    if f.ca_cert.is_file() and f.ca_key.is_file():
        ca_key = _load_key(f.ca_key)
        ca_cert = x509.load_pem_x509_certificate(f.ca_cert.read_bytes())
    else:
        ca_key = new_key()
        ca_cert = make_ca(ca_key)
        _write_private(f.ca_key, _key_pem(ca_key))
        f.ca_cert.write_bytes(pem(ca_cert))
    wanted = [*names, *LOCAL_NAMES]
    if f.cert.is_file() and f.key.is_file():
        if covers(x509.load_pem_x509_certificate(f.cert.read_bytes()), wanted, ca_cert):
            return f, False
    key = new_key()
    _write_private(f.key, _key_pem(key))
    f.cert.write_bytes(pem(issue(ca_cert, ca_key, key, wanted)))
    return f, True


def cert_id(path: Path) -> str:
    """A short id of a certificate file (its SHA-256), for the container's label."""
    return x509.load_pem_x509_certificate(path.read_bytes()).fingerprint(hashes.SHA256()).hex()[:16]
