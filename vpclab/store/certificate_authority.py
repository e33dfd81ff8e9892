"""The state directory's certificate authority: what makes vpclab's API an AWS endpoint
over HTTPS inside a VPC.

An instance that calls `https://ec2.<region>.amazonaws.com` through an interface
endpoint checks the server's certificate, as every SDK does. vpclab cannot hold AWS's
certificates, so each state directory has its own CA, which every instance of that
directory trusts (the data plane writes it into their trust stores) and which a user
may trust on the host (`vpclab ca` prints where it is). Its key never leaves the
directory: `<state_dir>/tls/ca.key`, mode 0600 (root's only, as credentials.json), and
`ca.crt` beside it, readable by all.

The CA signs one leaf certificate per set of names (a service's names in a region), kept
in memory: leaves are cheap to make (EC P-256) and need no file. A leaf lives 397 days,
the longest a browser accepts; the CA ten years.
"""
from __future__ import annotations

import datetime as dt
import os
import ssl
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .private_file import write_private

DIRECTORY = "tls"
CA_CERT = "ca.crt"
CA_KEY = "ca.key"
CA_DAYS = 3650
LEAF_DAYS = 397


def ca_cert_path(state_dir: Path) -> Path:
    return Path(state_dir) / DIRECTORY / CA_CERT


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "vpclab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(".tmp-" + path.name)
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


class CertificateAuthority:
    """The CA of one state directory, made at first use."""

    def __init__(self, state_dir: Path):
        self.directory = Path(state_dir) / DIRECTORY
        self._lock = threading.Lock()
        self._key: ec.EllipticCurvePrivateKey | None = None
        self._cert: x509.Certificate | None = None
        self._leaf_key: ec.EllipticCurvePrivateKey | None = None  # made at the first leaf
        self._contexts: dict[tuple[str, ...], ssl.SSLContext] = {}

    @property
    def cert_path(self) -> Path:
        return self.directory / CA_CERT

    def certificate_pem(self) -> bytes:
        """The CA certificate (PEM): what clients trust."""
        self._load()
        assert self._cert is not None
        return self._cert.public_bytes(serialization.Encoding.PEM)

    def _load(self) -> None:
        with self._lock:
            if self._cert is not None:
                return
            key_path, cert_path = self.directory / CA_KEY, self.directory / CA_CERT
            if key_path.exists() and cert_path.exists():
                key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
                assert isinstance(key, ec.EllipticCurvePrivateKey)
                self._key, self._cert = key, x509.load_pem_x509_certificate(cert_path.read_bytes())
                return
            self.directory.mkdir(mode=0o755, parents=True, exist_ok=True)
            key = ec.generate_private_key(ec.SECP256R1())
            now = dt.datetime.now(dt.timezone.utc)
            subject = _name(f"vpclab CA {os.urandom(4).hex()}")
            cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                    .public_key(key.public_key()).serial_number(x509.random_serial_number())
                    .not_valid_before(now - dt.timedelta(minutes=5))
                    .not_valid_after(now + dt.timedelta(days=CA_DAYS))
                    .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                    .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                 content_commitment=False, key_encipherment=False,
                                                 data_encipherment=False, key_agreement=False,
                                                 encipher_only=False, decipher_only=False), critical=True)
                    .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                    .sign(key, hashes.SHA256()))
            write_private(key_path, key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
            _write_public(cert_path, cert.public_bytes(serialization.Encoding.PEM))
            self._key, self._cert = key, cert

    def leaf(self, names: Sequence[str]) -> tuple[bytes, bytes]:
        """(certificate chain PEM, key PEM) of a server certificate for `names` (DNS names,
        wildcards allowed), signed by this CA."""
        self._load()
        assert self._key is not None and self._cert is not None
        with self._lock:
            if self._leaf_key is None:
                self._leaf_key = ec.generate_private_key(ec.SECP256R1())
            leaf_key = self._leaf_key
        now = dt.datetime.now(dt.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(_name(names[0])).issuer_name(self._cert.subject)
                .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                               critical=False)
                .sign(self._key, hashes.SHA256()))
        chain = cert.public_bytes(serialization.Encoding.PEM) + self.certificate_pem()
        key = leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())
        return chain, key

    def server_context(self, names: Sequence[str]) -> ssl.SSLContext:
        """A TLS server context presenting a leaf for `names` (one per set of names)."""
        key = tuple(names)
        with self._lock:
            context = self._contexts.get(key)
        if context is not None:
            return context
        chain, private = self.leaf(names)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        # ssl loads a chain and key from files only: a private temporary directory, gone at once.
        with tempfile.TemporaryDirectory(prefix="vpclab-tls-") as tmp:
            cert_file, key_file = Path(tmp) / "chain.pem", Path(tmp) / "key.pem"
            cert_file.write_bytes(chain)
            write_private(key_file, private)
            context.load_cert_chain(cert_file, key_file)
        with self._lock:
            self._contexts.setdefault(key, context)
            return self._contexts[key]
