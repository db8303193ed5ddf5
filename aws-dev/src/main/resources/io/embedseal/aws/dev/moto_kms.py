"""Development and test only: moto's KMS API server with the key-state and key-use rules AWS documents and moto
5.2 does not enforce.

embedseal tests its AWS KMS provider against moto (https://github.com/getmoto/moto), which answers KMS's real wire
protocol. Moto checks encryption contexts and ciphertext integrity, signs with real keys and keeps key states, but it
lets a disabled key or a key pending deletion encrypt and decrypt, decrypts RSA ciphertexts with no RSA at all, and
answers a Decrypt naming another key with AccessDeniedException. The provider must follow AWS, not those gaps, so this
launcher adds each rule below to moto before serving, citing where AWS documents it. Nothing else is changed.

1. Key states (https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html): Encrypt, Decrypt, Sign,
   GetPublicKey and RotateKeyOnDemand fail with DisabledException on a Disabled key, and on a key PendingDeletion
   with either "DisabledException: <key ARN> is pending deletion" or KMSInvalidStateException (AWS's table gives both):
   here Encrypt gives the former and every other use the latter, so that a client meets both; on a key PendingImport,
   KMSInvalidStateException. EnableKey and DisableKey fail with KMSInvalidStateException on a key PendingDeletion;
   ScheduleKeyDeletion of a key already PendingDeletion fails with KMSInvalidStateException.
2. Decrypt with a KeyId other than the ciphertext's key fails with IncorrectKeyException
   (https://docs.aws.amazon.com/kms/latest/APIReference/API_Decrypt.html).
3. Encrypt with SYMMETRIC_DEFAULT under an asymmetric key fails with InvalidKeyUsageException; Decrypt with
   RSAES_OAEP_SHA_1/RSAES_OAEP_SHA_256 runs RSA-OAEP with the key's private key (MGF1 with the same hash, no label),
   and an RSA algorithm under a symmetric key, or a symmetric one under an RSA key, fails with InvalidKeyUsageException.
4. ScheduleKeyDeletion takes a waiting period of 7 to 30 days only, else ValidationException
   (https://docs.aws.amazon.com/kms/latest/APIReference/API_ScheduleKeyDeletion.html); moto ignores the call.
5. RotateKeyOnDemand, EnableKeyRotation and ListKeyRotations refuse asymmetric keys with UnsupportedOperationException
   (https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html).
6. EnableKey, DisableKey and ScheduleKeyDeletion take a key ARN as well as a key id, as AWS documents for their KeyId;
   moto 5.2 answers a key ARN there with an internal error (500).
7. Sign with MessageType=DIGEST signs the digest given, as it is, for the ECDSA algorithms (moto 5.2 hashes it again);
   a digest of another length than the algorithm's hash is a ValidationException
   (https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html).
8. When moto checks IAM policies (INITIAL_NO_AUTH_ACTION_COUNT set: moto evaluates the actions of identity policies,
   not their resources or conditions), a refusal is KMS's AccessDeniedException, an unknown access key KMS's
   UnrecognizedClientException and a bad signature KMS's InvalidSignatureException, in KMS's JSON protocol
   (https://docs.aws.amazon.com/kms/latest/APIReference/CommonErrors.html); moto answers in IAM's XML.

Usage: python moto_kms.py -H 127.0.0.1 -p <port>
"""

import base64
import json
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils as asym_utils
from moto.core.exceptions import JsonRESTError
from werkzeug.exceptions import HTTPException
from moto.kms import models, responses, utils


class _Error(JsonRESTError):
    code = 400

    def __init__(self, error_type, message):
        super().__init__(error_type, message)
        self.description = json.dumps({"__type": error_type, "message": message})


def _usable(key, operation=""):
    """Rule 1: what Encrypt, Decrypt, Sign, GetPublicKey and RotateKeyOnDemand do in each key state."""
    if key.key_state == "Disabled":
        raise _Error("DisabledException", f"{key.arn} is disabled.")
    if key.key_state == "PendingDeletion" and operation == "Encrypt":
        raise _Error("DisabledException", f"{key.arn} is pending deletion.")
    if key.key_state in ("PendingDeletion", "PendingImport", "PendingReplicaDeletion", "Unavailable"):
        raise _Error("KMSInvalidStateException", f"{key.arn} is pending deletion." if key.key_state ==
                     "PendingDeletion" else f"{key.arn} is {key.key_state}.")


def _key(backend, key_id):
    return backend.keys[backend.any_id_to_key_id(key_id)]


_encrypt = models.KmsBackend.encrypt
_decrypt = models.KmsBackend.decrypt
_sign = models.KmsBackend.sign
_get_public_key = models.KmsBackend.get_public_key
_rotate = models.KmsBackend.rotate_key_on_demand
_enable_rotation = models.KmsBackend.enable_key_rotation
_list_rotations = models.KmsBackend.list_key_rotations
_schedule = models.KmsBackend.schedule_key_deletion
_enable = models.KmsBackend.enable_key
_disable = models.KmsBackend.disable_key


def encrypt(self, key_id, plaintext, encryption_context):
    key = _key(self, key_id)
    _usable(key, "Encrypt")
    if key.key_spec != "SYMMETRIC_DEFAULT":  # rule 3
        raise _Error("InvalidKeyUsageException", f"{key.arn} is not a symmetric encryption key.")
    return _encrypt(self, key_id, plaintext, encryption_context)


def decrypt(self, ciphertext_blob, encryption_context, key_id=None):
    try:
        named = utils._deserialize_ciphertext_blob(ciphertext_blob=ciphertext_blob).key_id
    except Exception:
        named = None
    if key_id is not None:
        key = _key(self, key_id)
        if key.key_spec != "SYMMETRIC_DEFAULT":  # rule 3
            raise _Error("InvalidKeyUsageException", f"{key.arn} does not take SYMMETRIC_DEFAULT.")
        if named is not None and named != key.id:  # rule 2
            raise _Error("IncorrectKeyException", "The key ID in the request does not identify a KMS key that can "
                         "perform this operation.")
    if named is not None and named in self.keys:
        _usable(self.keys[named])
    return _decrypt(self, ciphertext_blob, encryption_context, key_id)


def sign(self, key_id, message, signing_algorithm):
    _usable(_key(self, key_id))
    return _sign(self, key_id, message, signing_algorithm)


def get_public_key(self, key_id):
    _usable(_key(self, key_id))
    return _get_public_key(self, key_id)


def _symmetric_only(key):
    if key.key_spec != "SYMMETRIC_DEFAULT":  # rule 5
        raise _Error("UnsupportedOperationException", f"{key.arn} is not a symmetric encryption key; only those rotate.")


def rotate_key_on_demand(self, key_id):
    key = _key(self, key_id)
    _usable(key)
    _symmetric_only(key)
    return _rotate(self, key_id)


def enable_key_rotation(self, key_id):
    _symmetric_only(_key(self, key_id))
    return _enable_rotation(self, key_id)


def list_key_rotations(self, *args, **kwargs):
    key_id = kwargs.get("key_id", args[0] if args else None)
    _symmetric_only(_key(self, key_id))
    return _list_rotations(self, *args, **kwargs)


def schedule_key_deletion(self, key_id, pending_window_in_days):
    if not 7 <= pending_window_in_days <= 30:  # rule 4
        raise _Error("ValidationException", "PendingWindowInDays must be between 7 and 30.")
    key = _key(self, key_id)
    if key.key_state == "PendingDeletion":  # rule 1
        raise _Error("KMSInvalidStateException", f"{key.arn} is pending deletion.")
    return _schedule(self, key.id, pending_window_in_days)


def _not_pending_deletion(self, key_id):
    key = _key(self, key_id)
    if key.key_state == "PendingDeletion":  # rule 1
        raise _Error("KMSInvalidStateException", f"{key.arn} is pending deletion.")
    return key.id


def enable_key(self, key_id):
    return _enable(self, _not_pending_deletion(self, key_id))


def disable_key(self, key_id):
    return _disable(self, _not_pending_deletion(self, key_id))


_decrypt_response = responses.KmsResponse.decrypt


def decrypt_response(self):
    """Rule 3: RSA-OAEP decryption with the key's private key, for the algorithms AWS names."""
    algorithm = self._get_param("EncryptionAlgorithm") or "SYMMETRIC_DEFAULT"
    if algorithm == "SYMMETRIC_DEFAULT":
        return _decrypt_response(self)
    key_id = self._get_param("KeyId")
    if not key_id:
        raise _Error("ValidationException", "KeyId is required for asymmetric KMS keys.")
    self._validate_key_id(key_id)
    key = _key(self.kms_backend, key_id)
    if algorithm not in ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256") or not key.key_spec.startswith("RSA_"):
        raise _Error("InvalidKeyUsageException", f"{algorithm} is not valid for {key.arn}.")
    if key.key_usage != "ENCRYPT_DECRYPT":
        raise _Error("InvalidKeyUsageException", f"{key.arn} is not an encryption key.")
    _usable(key)
    digest = hashes.SHA256() if algorithm == "RSAES_OAEP_SHA_256" else hashes.SHA1()
    try:
        plaintext = key.private_key.private_key.decrypt(
            self._get_param("CiphertextBlob"),
            padding.OAEP(mgf=padding.MGF1(algorithm=digest), algorithm=digest, label=None),
        )
    except ValueError:
        raise _Error("InvalidCiphertextException", "")
    return json.dumps({
        "Plaintext": base64.b64encode(plaintext).decode("ascii"),
        "KeyId": key.arn,
        "EncryptionAlgorithm": algorithm,
    })


_sign_response = responses.KmsResponse.sign
_ECDSA = {"ECDSA_SHA_256": hashes.SHA256, "ECDSA_SHA_384": hashes.SHA384, "ECDSA_SHA_512": hashes.SHA512}


def sign_response(self):
    """Rule 7: a DIGEST is signed as it is."""
    algorithm = self._get_param("SigningAlgorithm")
    if self._get_param("MessageType") != "DIGEST" or algorithm not in _ECDSA:
        return _sign_response(self)
    key_id = self._get_param("KeyId")
    self._validate_key_id(key_id)
    key = _key(self.kms_backend, key_id)
    _usable(key)
    if key.key_usage != "SIGN_VERIFY" or not key.key_spec.startswith("ECC_"):
        raise _Error("InvalidKeyUsageException", f"{algorithm} is not valid for {key.arn}.")
    digest = self._get_param("Message")  # moto's parameter parsing has decoded the blob already
    if isinstance(digest, str):
        digest = digest.encode("latin-1")
    hash_algorithm = _ECDSA[algorithm]()
    if len(digest) != hash_algorithm.digest_size:
        raise _Error("ValidationException", f"Digest is invalid length for algorithm {algorithm}.")
    signature = key.private_key.private_key.sign(digest, ec.ECDSA(asym_utils.Prehashed(hash_algorithm)))
    return json.dumps({
        "KeyId": key.arn,
        "Signature": base64.b64encode(signature).decode("ascii"),
        "SigningAlgorithm": algorithm,
    })


_authorize = responses.KmsResponse._authenticate_and_authorize_normal_action
_AUTH_ERRORS = {
    "AccessDenied": "AccessDeniedException",
    "InvalidClientTokenId": "UnrecognizedClientException",
    "SignatureDoesNotMatch": "InvalidSignatureException",
}


def authorize(self, resource="*"):
    """Rule 8: IAM's refusals as KMS words them."""
    try:
        return _authorize(self, resource)
    except HTTPException as refused:
        kind = getattr(refused, "error_type", None)
        if kind in _AUTH_ERRORS:
            raise _Error(_AUTH_ERRORS[kind], getattr(refused, "message", "") or kind)
        raise


models.KmsBackend.encrypt = encrypt
models.KmsBackend.decrypt = decrypt
models.KmsBackend.sign = sign
models.KmsBackend.get_public_key = get_public_key
models.KmsBackend.rotate_key_on_demand = rotate_key_on_demand
models.KmsBackend.enable_key_rotation = enable_key_rotation
models.KmsBackend.list_key_rotations = list_key_rotations
models.KmsBackend.schedule_key_deletion = schedule_key_deletion
models.KmsBackend.enable_key = enable_key
models.KmsBackend.disable_key = disable_key
responses.KmsResponse.decrypt = decrypt_response
responses.KmsResponse.sign = sign_response
responses.KmsResponse._authenticate_and_authorize_normal_action = authorize

if __name__ == "__main__":
    from moto.server import main

    main(sys.argv[1:])
