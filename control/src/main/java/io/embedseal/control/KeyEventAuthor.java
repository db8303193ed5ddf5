package io.embedseal.control;

import io.embedseal.schemas.KeyEvent;
import io.embedseal.schemas.KeyEventType;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * Writes signed key events with each tenant's next sequence number: the record values an operator command, the demo,
 * a benchmark or a test publishes. It starts from the sequences it is given (what the topic holds, read with the
 * reader's own rules) and counts on from there.
 */
public final class KeyEventAuthor {

    private final KeyEventSigner signer;
    private final String actor;
    private final Map<String, Long> last = new ConcurrentHashMap<>();

    public KeyEventAuthor(KeyEventSigner signer, String actor) {
        this.signer = Objects.requireNonNull(signer, "signer");
        this.actor = Objects.requireNonNull(actor, "actor");
    }

    /** An author signing with {@code keyName} in {@code keys}, created there first if missing (development, tests). */
    public static KeyEventAuthor creatingKey(io.embedseal.keyring.kms.SigningKeys keys, String keyName, String actor) {
        keys.createSigningKey(keyName);
        return new KeyEventAuthor(new KeyEventSigner(keys, keyName), actor);
    }

    public KeyEventSigner signer() {
        return signer;
    }

    /** Continues a tenant's sequence after {@code lastSequence} (what the topic's readers applied last). */
    public KeyEventAuthor continueAfter(String tenant, long lastSequence) {
        last.merge(tenant, lastSequence, Math::max);
        return this;
    }

    /** The record value of the tenant's next event, signed. */
    public byte[] next(
            String tenant,
            KeyEventType type,
            String kms,
            String kekName,
            int kekVersion,
            @Nullable String reason,
            @Nullable String authority) {
        long seq = last.merge(tenant, 1L, Long::sum);
        KeyEvent e = KeyEvents.event(tenant, type, kms, kekName, kekVersion, actor, reason, seq, authority);
        return signer.sign(e);
    }

    /**
     * The record value of the tenant's next REGISTERED, ROTATED or MIGRATED naming a public-key KEK's version and
     * pinning its public key, signed.
     */
    public byte[] next(String tenant, KeyEventType type, io.embedseal.keyring.kms.PublicKek publicKek) {
        long seq = last.merge(tenant, 1L, Long::sum);
        io.embedseal.keyring.kms.KekRef k = publicKek.kek();
        KeyEvent e = KeyEvents.event(
                tenant, type, k.provider(), k.keyName(), k.version(), actor, null, seq, null, publicKek);
        return signer.sign(e);
    }

    /** {@link #next} with no reason and no authority of the tenant's own. */
    public byte[] next(String tenant, KeyEventType type, String kms, String kekName, int kekVersion) {
        return next(tenant, type, kms, kekName, kekVersion, null, null);
    }
}
