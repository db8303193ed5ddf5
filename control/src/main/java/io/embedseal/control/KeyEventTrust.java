package io.embedseal.control;

import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.SigningKeys;
import io.embedseal.keyring.kms.UnknownKeyException;
import io.embedseal.keyring.tenant.TenantDirectory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PublicKey;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds a {@link KeyEventGate} from the settings ({@code kms.events.*}): the verification mode and the trusted
 * signers, read from the configured KMS ({@code kms:<name>}), a PEM file or the setting itself. A reader that
 * requires signatures and trusts no key cannot start: the error names the setting.
 */
public final class KeyEventTrust {

    private static final Logger LOG = LoggerFactory.getLogger(KeyEventTrust.class);

    private KeyEventTrust() {}

    /**
     * @param signingKeys the configured KMS's signing keys, asked only for {@code kms:} entries
     * @throws IllegalArgumentException naming {@code kms.events.trusted-signers} if an entry cannot be read
     */
    public static KeyEventGate gate(
            KeyringSettings settings, TenantDirectory directory, Supplier<Optional<SigningKeys>> signingKeys) {
        return gate(settings, directory, signingKeys, false);
    }

    /**
     * @param tolerateMissing for the operator's own commands: a {@code kms:} signing key that does not exist (yet)
     *                        is skipped instead of failing, so that reading the topic never creates a key; events
     *                        signed by it then do not apply, exactly as for a reader that does not trust it
     */
    public static KeyEventGate gate(
            KeyringSettings settings,
            TenantDirectory directory,
            Supplier<Optional<SigningKeys>> signingKeys,
            boolean tolerateMissing) {
        if (settings.eventVerificationDisabled()) {
            LOG.warn("**************************************************************************************");
            LOG.warn(
                    "* {}=disabled-insecure: key events are applied WITHOUT checking signatures or sequence.",
                    KeyringSettings.EVENTS_VERIFICATION.name());
            LOG.warn("* Anyone who can write the key-event topic decides over every tenant's key. Development only.");
            LOG.warn("**************************************************************************************");
            return new KeyEventGate(directory, TrustedSigners.none(), KeyEventGate.Mode.DISABLED_INSECURE);
        }
        return new KeyEventGate(directory, trusted(settings, signingKeys, tolerateMissing), KeyEventGate.Mode.REQUIRED);
    }

    /** Why a reader that requires signatures does not start on a topic written before signing existed. */
    public static String unmigratedMessage(String topic, KeyEventGate gate) {
        return topic + " holds " + gate.unsignedSeen() + " unsigned key events and not one signed event that applies: "
                + "it was written before key events were signed. Nothing was read from it. Migrate it once (the "
                + "operator re-publishes each tenant's state, signed: docs/key-lifecycle.md, \"Migrating to signed key "
                + "events\"), or set " + KeyringSettings.EVENTS_VERIFICATION.name()
                + "=disabled-insecure (development only).";
    }

    /** The keys {@code kms.events.trusted-signers} names. */
    public static TrustedSigners trusted(KeyringSettings settings, Supplier<Optional<SigningKeys>> signingKeys) {
        return trusted(settings, signingKeys, false);
    }

    private static TrustedSigners trusted(
            KeyringSettings settings, Supplier<Optional<SigningKeys>> signingKeys, boolean tolerateMissing) {
        String setting = KeyringSettings.EVENTS_TRUSTED_SIGNERS.name();
        List<PublicKey> keys = new ArrayList<>();
        for (String entry : settings.trustedSigners()) {
            if (entry.startsWith("kms:")) {
                String name = entry.substring(4);
                SigningKeys sk = signingKeys
                        .get()
                        .orElseThrow(() -> new IllegalArgumentException(setting + ": KMS provider '"
                                + settings.provider() + "' holds no signing keys; pin the public key instead"));
                try {
                    keys.add(sk.publicKey(name));
                } catch (UnknownKeyException e) {
                    if (!tolerateMissing) {
                        throw new IllegalArgumentException(
                                setting + ": " + settings.provider() + " has no signing key '" + name
                                        + "'. Create it with `embedseal keys signing-key`, or pin the operator's "
                                        + "public key.",
                                e);
                    }
                } catch (KmsException e) {
                    throw new IllegalArgumentException(
                            setting + ": cannot read the public key of signing key '" + name + "' from "
                                    + settings.provider() + " (" + e.getMessage() + "). Create it with "
                                    + "`embedseal keys signing-key`, or pin the operator's public key.",
                            e);
                }
            } else if (entry.startsWith("file:")) {
                Path file = Path.of(entry.substring(5));
                try {
                    keys.add(KeyEventSignatures.parse(Files.readString(file, StandardCharsets.US_ASCII)));
                } catch (IOException | IllegalArgumentException e) {
                    throw new IllegalArgumentException(
                            setting + ": cannot read a public key from " + file + " (" + e.getMessage() + ")", e);
                }
            } else {
                try {
                    keys.add(KeyEventSignatures.parse(entry));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException(
                            setting + ": an entry is neither kms:<name>, file:<path> nor a base64 public key ("
                                    + e.getMessage() + ")",
                            e);
                }
            }
        }
        if (keys.isEmpty() && tolerateMissing) {
            return TrustedSigners.none();
        }
        if (keys.isEmpty()) {
            throw new IllegalArgumentException(setting + " is empty, and " + KeyringSettings.EVENTS_VERIFICATION.name()
                    + "=required: no key event could ever apply");
        }
        TrustedSigners t = TrustedSigners.of(keys);
        LOG.info("key events must be signed; trusted registration signers: {}", t.ids());
        return t;
    }
}
