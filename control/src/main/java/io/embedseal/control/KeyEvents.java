package io.embedseal.control;

import io.embedseal.keyring.TenantIds;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.keyring.tenant.TenantStatus;
import io.embedseal.schemas.KeyEvent;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.avro.AvroClassTrust;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.Objects;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.jspecify.annotations.Nullable;

/**
 * Reads and writes the records of the key-event topic ({@code keyring.events}, compacted, keyed by tenant id).
 * Values use Avro's single-object encoding (two marker bytes, the schema's 64-bit fingerprint, the body), so a
 * key event can be read without a schema registry: revoking a tenant must not depend on the registry being up.
 */
public final class KeyEvents {

    static {
        AvroClassTrust.install();
    }

    private static final BinaryMessageEncoder<KeyEvent> ENCODER = KeyEvent.getEncoder();
    private static final BinaryMessageDecoder<KeyEvent> DECODER = KeyEvent.getDecoder();

    private KeyEvents() {}

    /** A key event that is not one, or breaks the rules (the tenant id it claims, its version). */
    public static class InvalidKeyEventException extends RuntimeException {
        public InvalidKeyEventException(String message, @Nullable Throwable cause) {
            super(message, cause);
        }
    }

    public static byte[] encode(KeyEvent event) {
        try {
            ByteBuffer b = ENCODER.encode(event);
            byte[] out = new byte[b.remaining()];
            b.get(out);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * @param key the record key, which must be the event's tenant id
     * @throws InvalidKeyEventException if the bytes are not a key event for that tenant
     */
    public static KeyEvent decode(String key, byte[] value) {
        KeyEvent e;
        try {
            e = DECODER.decode(value);
        } catch (IOException | RuntimeException ex) {
            throw new InvalidKeyEventException(
                    "key event for " + key + " does not decode ("
                            + ex.getClass().getSimpleName() + ")",
                    ex);
        }
        if (!Objects.equals(key, e.getTenantId()) || !TenantIds.isValid(e.getTenantId())) {
            throw new InvalidKeyEventException(
                    "key event under key " + key + " is for tenant " + e.getTenantId(), null);
        }
        if (e.getKekVersion() < 1 || e.getKekName() == null || e.getKekName().isBlank()) {
            throw new InvalidKeyEventException("key event for " + key + " names no valid KEK version/name", null);
        }
        return e;
    }

    /** The tenant state an event leaves behind. */
    public static TenantState toState(KeyEvent e) {
        TenantStatus status = switch (e.getType()) {
            case REGISTERED, ROTATED, RESTORED -> TenantStatus.ACTIVE;
            case REVOKED -> TenantStatus.REVOKED;
            case DESTROYED -> TenantStatus.DESTROYED;
        };
        return new TenantState(
                e.getTenantId(),
                status,
                e.getKms(),
                e.getKekName(),
                e.getKekVersion(),
                e.getType().name(),
                e.getTime());
    }

    /** A key event with the fields every event needs. */
    public static KeyEvent event(
            String tenantId,
            KeyEventType type,
            String kms,
            String kekName,
            int kekVersion,
            String actor,
            @Nullable String reason) {
        return KeyEvent.newBuilder()
                .setTenantId(tenantId)
                .setType(type)
                .setKms(kms)
                .setKekName(kekName)
                .setKekVersion(kekVersion)
                .setTime(java.time.Instant.now())
                .setActor(actor)
                .setReason(reason)
                .build();
    }
}
