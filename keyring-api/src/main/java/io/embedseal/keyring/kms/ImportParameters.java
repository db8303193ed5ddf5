package io.embedseal.keyring.kms;

import java.util.Objects;

/**
 * What a tenant needs to wrap key material for import into a KMS: which key, of what kind, the KMS's transport public
 * key (X.509 SubjectPublicKeyInfo, DER), how to wrap with it, and what the key material must be. Public values only.
 *
 * @param provider     the KMS provider name
 * @param keyName      the key the material will become
 * @param kind         a symmetric KEK or a key pair
 * @param wrapping     how the material is wrapped for transport
 * @param transportKey the KMS's transport public key (RSA), SubjectPublicKeyInfo DER
 * @param material     what the key material must be
 */
public record ImportParameters(
        String provider, String keyName, KekKind kind, Wrapping wrapping, byte[] transportKey, Material material) {

    /** The key material a KMS takes. */
    public enum Material {
        /** 32 random bytes: an AES-256 key (a symmetric KEK). */
        AES_256_RAW("aes-256", "32 raw bytes of an AES-256 key"),
        /** An RSA-3072 private key, PKCS#8 DER (a public-key KEK in Vault Transit or a PKCS#11 token). */
        RSA_3072_PKCS8("rsa-3072", "an RSA-3072 private key, PKCS#8 DER"),
        /** 32 raw bytes of an X25519 private key (a public-key KEK in the local development KMS). */
        X25519_RAW("x25519", "32 raw bytes of an X25519 private key");

        private final String label;
        private final String description;

        Material(String label, String description) {
            this.label = label;
            this.description = description;
        }

        public String label() {
            return label;
        }

        public String description() {
            return description;
        }

        /** @throws IllegalArgumentException naming the accepted values */
        public static Material parse(String text) {
            for (Material m : values()) {
                if (m.label.equals(text)) {
                    return m;
                }
            }
            throw new IllegalArgumentException("key material must be aes-256, rsa-3072 or x25519, got: '" + text + "'");
        }
    }

    /** Transport wrappings: RSA-OAEP of a one-use AES-256 key, then AES key wrap with padding (RFC 5649) of the material. */
    public enum Wrapping {
        /** RSA-OAEP with SHA-256 and MGF1-SHA-256 (Vault/OpenBao Transit BYOK, AWS KMS RSA_AES_KEY_WRAP_SHA_256). */
        RSA_OAEP_SHA256_AES_KWP("rsa-oaep-sha256+aes-kwp", "SHA-256"),
        /** RSA-OAEP with SHA-1 and MGF1-SHA-1 (PKCS#11 tokens whose OAEP has SHA-1 only, such as SoftHSM 2.6). */
        RSA_OAEP_SHA1_AES_KWP("rsa-oaep-sha1+aes-kwp", "SHA-1");

        private final String label;
        private final String hash;

        Wrapping(String label, String hash) {
            this.label = label;
            this.hash = hash;
        }

        public String label() {
            return label;
        }

        /** The OAEP hash (and MGF1 hash). */
        public String hash() {
            return hash;
        }

        /** @throws IllegalArgumentException naming the accepted values */
        public static Wrapping parse(String text) {
            for (Wrapping w : values()) {
                if (w.label.equals(text)) {
                    return w;
                }
            }
            throw new IllegalArgumentException("transport wrapping must be rsa-oaep-sha256+aes-kwp or "
                    + "rsa-oaep-sha1+aes-kwp, got: '" + text + "'");
        }
    }

    public ImportParameters {
        Objects.requireNonNull(provider, "provider");
        Objects.requireNonNull(keyName, "keyName");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(wrapping, "wrapping");
        transportKey = transportKey.clone();
        Objects.requireNonNull(material, "material");
    }

    @Override
    public byte[] transportKey() {
        return transportKey.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ImportParameters p
                && provider.equals(p.provider)
                && keyName.equals(p.keyName)
                && kind == p.kind
                && wrapping == p.wrapping
                && java.util.Arrays.equals(transportKey, p.transportKey)
                && material.equals(p.material);
    }

    @Override
    public int hashCode() {
        return Objects.hash(provider, keyName, kind, wrapping, material) + 31 * java.util.Arrays.hashCode(transportKey);
    }

    @Override
    public String toString() {
        return "ImportParameters[" + provider + ":" + keyName + ", " + kind.label() + ", " + wrapping.label()
                + ", transport key " + PublicKek.fingerprint(transportKey) + ", material: " + material.description()
                + "]";
    }
}
