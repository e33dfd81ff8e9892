"""Key pairs: CreateKeyPair, ImportKeyPair, DescribeKeyPairs, DeleteKeyPair.

Key material is real: RSA 2048 or ed25519 keys made with the `cryptography` package when
it is importable, else with `ssh-keygen`. The data plane may install the public key in
an instance's `authorized_keys`. Fingerprints are computed as AWS documents them:

- created RSA key: SHA-1 of the private key in PKCS#8 DER, colon-separated hex;
- imported RSA key: MD5 of the public key in DER (SubjectPublicKeyInfo), colon hex;
- ed25519 key (created or imported): SHA-256 of the OpenSSH public key blob, base64 with
  padding (as `ssh-keygen -l -E sha256` without the `SHA256:` prefix).

vpclab keeps the public key only; the private key is returned once and forgotten.
"""
from __future__ import annotations

import base64
import hashlib
import os
import struct
import subprocess
import tempfile

from ...model.ec2 import KeyPair
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import AwsError, InvalidParameterValue, MissingParameter
from ...store import Transaction
from ..common.filters import by_ids, filter_and_page
from ..common.ids import new_id
from ..common.lookup import KEY_PAIR, find_owned
from ..common.tags import tag_list, tags_from_specs

_RSA_OID = bytes.fromhex("06092a864886f70d010101")  # 1.2.840.113549.1.1.1
_DER_NULL = b"\x05\x00"


class InvalidKeyFormat(AwsError):
    code = "InvalidKey.Format"


# --- DER, just enough for RSA key containers ---------------------------------------------------

def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(body)) + body


def _der_int(value: int) -> bytes:
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")  # room for a sign bit
    return _der(0x02, body)


def pkcs8_from_pkcs1(pkcs1_der: bytes) -> bytes:
    """Wrap an RSA private key (PKCS#1 DER) as PKCS#8 DER."""
    algorithm = _der(0x30, _RSA_OID + _DER_NULL)
    return _der(0x30, _der_int(0) + algorithm + _der(0x04, pkcs1_der))


def rsa_spki_der(n: int, e: int) -> bytes:
    """An RSA public key as DER SubjectPublicKeyInfo."""
    algorithm = _der(0x30, _RSA_OID + _DER_NULL)
    key = _der(0x30, _der_int(n) + _der_int(e))
    return _der(0x30, algorithm + _der(0x03, b"\x00" + key))


def colon_hex(digest: bytes) -> str:
    return ":".join(f"{b:02x}" for b in digest)


# --- OpenSSH public keys ------------------------------------------------------------------------

def _ssh_fields(blob: bytes) -> list[bytes]:
    fields, pos = [], 0
    while pos < len(blob):
        if pos + 4 > len(blob):
            raise ValueError("truncated")
        (size,) = struct.unpack(">I", blob[pos:pos + 4])
        pos += 4
        if pos + size > len(blob):
            raise ValueError("truncated")
        fields.append(blob[pos:pos + size])
        pos += size
    return fields


def parse_openssh_public(text: str) -> tuple[str, bytes, list[bytes]]:
    """(key type, blob, fields) of an `ssh-rsa AAAA… comment` line; ValueError if it is not one."""
    parts = text.strip().split()
    if len(parts) < 2 or parts[0] not in ("ssh-rsa", "ssh-ed25519"):
        raise ValueError("not an OpenSSH public key")
    blob = base64.b64decode(parts[1], validate=True)
    fields = _ssh_fields(blob)
    if not fields or fields[0].decode("ascii", "replace") != parts[0]:
        raise ValueError("key type mismatch")
    if parts[0] == "ssh-rsa" and len(fields) != 3:
        raise ValueError("bad rsa key")
    if parts[0] == "ssh-ed25519" and (len(fields) != 2 or len(fields[1]) != 32):
        raise ValueError("bad ed25519 key")
    return parts[0], blob, fields


def ed25519_fingerprint(blob: bytes) -> str:
    return base64.b64encode(hashlib.sha256(blob).digest()).decode()


def imported_fingerprint(key_type: str, blob: bytes, fields: list[bytes]) -> str:
    if key_type == "ssh-ed25519":
        return ed25519_fingerprint(blob)
    e = int.from_bytes(fields[1], "big")
    n = int.from_bytes(fields[2], "big")
    return colon_hex(hashlib.md5(rsa_spki_der(n, e)).digest())


# --- Generating keys ---------------------------------------------------------------------------

def generate(key_type: str) -> tuple[str, str, str]:
    """(private key PEM, OpenSSH public key without comment, AWS fingerprint) of a new key."""
    try:
        return _generate_cryptography(key_type)
    except ImportError:
        return _generate_ssh_keygen(key_type)


def _generate_cryptography(key_type: str) -> tuple[str, str, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
    if key_type == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
        pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
        fingerprint = colon_hex(hashlib.sha1(pkcs8).digest())
    else:
        key = ed25519.Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption()).decode()
        fingerprint = ""
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH).decode()
    if key_type == "ed25519":
        fingerprint = ed25519_fingerprint(base64.b64decode(public.split()[1]))
    return pem, public, fingerprint


def _generate_ssh_keygen(key_type: str) -> tuple[str, str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "key")
        args = ["ssh-keygen", "-q", "-N", "", "-C", "", "-f", path, "-t", key_type]
        if key_type == "rsa":
            args += ["-b", "2048", "-m", "PEM"]
        subprocess.run(args, check=True, capture_output=True, timeout=60)
        with open(path) as f:
            pem = f.read()
        with open(path + ".pub") as f:
            public = " ".join(f.read().split()[:2])
    if key_type == "rsa":
        body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
        fingerprint = colon_hex(hashlib.sha1(pkcs8_from_pkcs1(base64.b64decode(body))).digest())
    else:
        fingerprint = ed25519_fingerprint(base64.b64decode(public.split()[1]))
    return pem, public, fingerprint


# --- API -----------------------------------------------------------------------------------------

def find_by_name(tx: Transaction, account: str, region: str, name: str) -> KeyPair | None:
    """The key pair called `name` (names are unique per account and region)."""
    found = tx.list(KeyPair, account, region, key_name=name)
    return found[0] if found else None


def _check_name(name: str | None) -> str:
    if not name:
        raise MissingParameter("The request must contain the parameter KeyName")
    # "Up to 255 ASCII characters"; control characters are ASCII but no answer could
    # show them, so only printable ASCII (space to ~) is taken. Unconfirmed wording.
    if len(name) > 255 or not name.isascii() or not name.isprintable():
        raise InvalidParameterValue(
            f"Value ({name}) for parameter keyName is invalid. "
            "Key names must be printable ASCII and at most 255 characters long."
        )
    return name


def _store(ctx: RequestContext, req: dict, name: str, key_type: str, public: str, fingerprint: str) -> KeyPair:
    tags = tags_from_specs(req.get("TagSpecifications"), "key-pair")
    key = KeyPair(
        id=new_id("key"),
        account=ctx.account,
        region=ctx.region,
        created=ctx.now.timestamp(),
        tags=tags,
        key_name=name,
        key_type=key_type,
        fingerprint=fingerprint,
        public_key=f"{public} {name}",
    )
    with ctx.write() as tx:
        if find_by_name(tx, ctx.account, ctx.region, name) is not None:
            raise AwsError(f"The keypair '{name}' already exists.", code="InvalidKeyPair.Duplicate")
        tx.put(key)
    return key


@operation("ec2", "CreateKeyPair")
def create_key_pair(ctx: RequestContext, req: dict) -> dict:
    name = _check_name(req.get("KeyName"))
    key_type = req.get("KeyType", "rsa")
    if key_type not in ("rsa", "ed25519"):
        raise InvalidParameterValue(f"Value ({key_type}) for parameter keyType is invalid. Valid values are rsa, ed25519.")
    key_format = req.get("KeyFormat", "pem")
    if key_format not in ("pem", "ppk"):
        raise InvalidParameterValue(f"Value ({key_format}) for parameter keyFormat is invalid. Valid values are pem, ppk.")
    if key_format == "ppk":
        # Unconfirmed choice: PuTTY keys need puttygen; vpclab says so rather than returning PEM.
        raise InvalidParameterValue("vpclab only creates keys in the 'pem' format.")
    with ctx.read() as tx:
        if find_by_name(tx, ctx.account, ctx.region, name) is not None:
            raise AwsError(f"The keypair '{name}' already exists.", code="InvalidKeyPair.Duplicate")
    pem, public, fingerprint = generate(key_type)
    key = _store(ctx, req, name, key_type, public, fingerprint)
    return {
        "KeyName": key.key_name,
        "KeyFingerprint": key.fingerprint,
        "KeyMaterial": pem.rstrip("\n"),
        "KeyPairId": key.id,
        "Tags": tag_list(key.tags),
    }


@operation("ec2", "ImportKeyPair")
def import_key_pair(ctx: RequestContext, req: dict) -> dict:
    name = _check_name(req.get("KeyName"))
    material = req.get("PublicKeyMaterial")
    if not material:
        raise MissingParameter("The request must contain the parameter PublicKeyMaterial")
    text = material.decode("utf-8", "replace") if isinstance(material, bytes) else material
    try:
        ssh_type, blob, fields = parse_openssh_public(text)
    except ValueError:
        raise InvalidKeyFormat("Key is not in valid OpenSSH public key format") from None
    key_type = "rsa" if ssh_type == "ssh-rsa" else "ed25519"
    if key_type == "rsa" and int.from_bytes(fields[2], "big").bit_length() < 1024:
        raise InvalidParameterValue("Invalid key length; RSA keys must be at least 1024 bits.")
    public = f"{ssh_type} {base64.b64encode(blob).decode()}"
    key = _store(ctx, req, name, key_type, public, imported_fingerprint(ssh_type, blob, fields))
    return {"KeyName": key.key_name, "KeyFingerprint": key.fingerprint, "KeyPairId": key.id,
            "Tags": tag_list(key.tags)}


def render(key: KeyPair, include_public: bool = False) -> dict:
    return {
        "KeyPairId": key.id,
        "KeyName": key.key_name,
        "KeyFingerprint": key.fingerprint,
        "KeyType": key.key_type,
        "CreateTime": key.created,
        "Tags": tag_list(key.tags) or [],
        "PublicKey": key.public_key if include_public else None,
    }


FILTERS = {
    "key-name": lambda k: k.key_name,
    "key-pair-id": lambda k: k.id,
    "fingerprint": lambda k: k.fingerprint,
    "key-type": lambda k: k.key_type,
}


@operation("ec2", "DescribeKeyPairs")
def describe_key_pairs(ctx: RequestContext, req: dict) -> dict:
    with ctx.read() as tx:
        keys = tx.list(KeyPair, ctx.account, ctx.region)
    keys = KEY_PAIR.select(keys, req.get("KeyPairIds"))
    keys = by_ids(keys, req.get("KeyNames"), lambda k: k.key_name, _name_not_found)
    page, _ = filter_and_page(keys, req.get("Filters"), FILTERS, tags=lambda k: k.tags)
    return {"KeyPairs": [render(k, bool(req.get("IncludePublicKey"))) for k in page]}


def _name_not_found(names: list[str]) -> AwsError:
    return AwsError(f"The key pair '{names[0]}' does not exist", code="InvalidKeyPair.NotFound")


@operation("ec2", "DeleteKeyPair")
def delete_key_pair(ctx: RequestContext, req: dict) -> dict:
    name: str = req.get("KeyName") or ""
    kid = req.get("KeyPairId")
    if not name and not kid:
        raise MissingParameter("The request must contain the parameter KeyName or KeyPairId")
    with ctx.write() as tx:
        if kid:
            KEY_PAIR.check(kid)
            key = find_owned(tx, ctx, KeyPair, kid)
            if key is None:
                # Unconfirmed: AWS answers success for a missing name; a missing id is taken
                # as the same idempotent delete rather than an error.
                return {"Return": True, "KeyPairId": kid}
        else:
            key = find_by_name(tx, ctx.account, ctx.region, name)
            if key is None:
                return {"Return": True}  # AWS: deleting a missing key name succeeds
        tx.delete(key)
    return {"Return": True, "KeyPairId": key.id}
