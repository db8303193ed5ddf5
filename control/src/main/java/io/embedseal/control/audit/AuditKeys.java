package io.embedseal.control.audit;

import io.embedseal.control.KeyEventSignatures;
import io.embedseal.control.TrustedSigners;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.KmsUnavailableException;
import io.embedseal.keyring.kms.SigningKeys;
import io.embedseal.keyring.kms.UnknownKeyException;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The audit trail's keys: which key a producer of entries signs its checkpoints with (its role's, {@code
 * audit-pipeline}, {@code audit-sink} or {@code audit-operator}, unless {@code kms.audit.signing-key} names
 * another), and which keys a verifier trusts ({@code kms.audit.trusted-signers}).
 */
public final class AuditKeys {

    private AuditKeys() {}

    /** The key name a role signs with. */
    public static String keyName(KeyringSettings settings, String role) {
        String configured = settings.auditSigningKey();
        return configured == null || configured.isBlank() ? "audit-" + role : configured;
    }

    /**
     * The signer of a producer of the given role. With the local provider or {@code kms.create-missing-keys=true}
     * (development) a missing key is created; elsewhere the key must exist (the KMS administrator creates it, as
     * deploy/vault/init.sh does).
     *
     * @throws IllegalArgumentException naming the setting, if the KMS holds no such key or no signing keys at all
     */
    public static AuditSigner signer(KeyringSettings settings, KmsProvider provider, String role) {
        String name = keyName(settings, role);
        SigningKeys keys = provider.signingKeys()
                .orElseThrow(() -> new IllegalArgumentException(KeyringSettings.AUDIT_SIGNING_KEY.name()
                        + ": KMS provider '" + provider.provider() + "' holds no signing keys, so audit checkpoints "
                        + "cannot be signed"));
        try {
            return new AuditSigner(keys, name);
        } catch (UnknownKeyException e) {
            if ("local".equals(provider.provider()) || settings.createMissingKeys()) {
                keys.createSigningKey(name); // development (kms.create-missing-keys), as for tenant keys
                return new AuditSigner(keys, name);
            }
            throw new IllegalArgumentException(
                    KeyringSettings.AUDIT_SIGNING_KEY.name() + ": " + provider.provider() + " has no signing key '"
                            + name + "' for this " + role + "'s audit checkpoints; the KMS administrator creates it "
                            + "(deploy/vault/init.sh does, as an ed25519 Transit key)",
                    e);
        } catch (KmsUnavailableException e) {
            throw e; // an outage, not a setting: the caller reports it as such
        } catch (KmsException e) {
            throw new IllegalArgumentException(
                    KeyringSettings.AUDIT_SIGNING_KEY.name() + ": cannot use signing key '" + name + "' of "
                            + provider.provider() + " (" + e.getMessage() + ")",
                    e);
        }
    }

    /** The role of each trusted {@code kms:audit-<role>} key, by key id (see {@link AuditVerifier}). */
    public static Map<String, String> roles(KeyringSettings settings, Supplier<Optional<SigningKeys>> signingKeys) {
        Map<String, String> out = new HashMap<>();
        for (String entry : settings.auditTrustedSigners()) {
            if (!entry.startsWith("kms:audit-")) {
                continue;
            }
            String role = entry.substring("kms:audit-".length());
            if (!List.of("pipeline", "sink", "operator").contains(role)) {
                continue;
            }
            Optional<SigningKeys> sk = signingKeys.get();
            if (sk.isEmpty()) {
                continue;
            }
            try {
                out.put(KeyEventSignatures.keyId(sk.get().publicKey(entry.substring(4))), role);
            } catch (UnknownKeyException e) {
                // no such key yet
            }
        }
        return out;
    }

    /**
     * The keys {@code kms.audit.trusted-signers} names ({@code kms:<name>} entries read from the KMS; missing ones
     * skipped, since not every role need exist; pinned base64 or {@code file:} entries as for key events).
     */
    public static TrustedSigners trusted(KeyringSettings settings, Supplier<Optional<SigningKeys>> signingKeys) {
        List<PublicKey> keys = new ArrayList<>();
        for (String entry : settings.auditTrustedSigners()) {
            if (entry.startsWith("kms:")) {
                Optional<SigningKeys> sk = signingKeys.get();
                if (sk.isEmpty()) {
                    continue;
                }
                try {
                    keys.add(sk.get().publicKey(entry.substring(4)));
                } catch (UnknownKeyException e) {
                    // a role without a key yet has written no checkpoint
                }
            } else if (entry.startsWith("file:")) {
                try {
                    keys.add(KeyEventSignatures.parse(
                            java.nio.file.Files.readString(java.nio.file.Path.of(entry.substring(5)))));
                } catch (java.io.IOException e) {
                    throw new IllegalArgumentException(
                            KeyringSettings.AUDIT_TRUSTED_SIGNERS.name() + ": cannot read " + entry.substring(5), e);
                }
            } else {
                keys.add(KeyEventSignatures.parse(entry));
            }
        }
        return TrustedSigners.of(keys);
    }
}
