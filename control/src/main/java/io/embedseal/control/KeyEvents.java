package io.embedseal.control;

import io.embedseal.keyring.TenantIds;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.keyring.tenant.TenantStatus;
import io.embedseal.schemas.KeyEvent;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.schemas.SignedKeyEvent;
import io.embedseal.serdes.avro.AvroClassTrust;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.jspecify.annotations.Nullable;

/**
 * Reads and writes the records of the key-event topic ({@code keyring.events}, kept forever, keyed by tenant id).
 * Values use Avro's single-object encoding (two marker bytes, the schema's 64-bit fingerprint, the body), so a
 * key event can be read without a schema registry: revoking a tenant must not depend on the registry being up.
 */
public final class KeyEvents {

    static {
        AvroClassTrust.install();
    }

    private static final BinaryMessageEncoder<KeyEvent> ENCODER = KeyEvent.getEncoder();
    /**
     * Events are written with the oldest schema that holds them: version 2 unless they are MIGRATED (version 3) or carry
     * a public key (version 4, this one), so that readers not yet upgraded (which know older fingerprints only) still
     * apply a REVOKED or DESTROYED written by a new CLI.
     */
    private static final BinaryMessageEncoder<KeyEvent> V2_ENCODER;

    private static final BinaryMessageEncoder<KeyEvent> V3_ENCODER;

    private static final BinaryMessageDecoder<KeyEvent> DECODER = KeyEvent.getDecoder();
    private static final BinaryMessageEncoder<SignedKeyEvent> SIGNED_ENCODER = SignedKeyEvent.getEncoder();
    private static final BinaryMessageDecoder<SignedKeyEvent> SIGNED_DECODER = SignedKeyEvent.getDecoder();
    /** The writer schemas a value may name, by fingerprint (filled below, before anything is decoded). */
    private static final Map<Long, Schema> KNOWN = new HashMap<>();

    static {
        // Events written before signing existed (schema version 1: no sequence, no authority, no signature) still
        // decode, so that a reader can say what they are and refuse them, or apply them in development mode.
        // Events of schema version 2 (before MIGRATED) decode with today's schema too.
        Schema v1 = legacy("KeyEvent-v1.avsc");
        Schema v2 = legacy("KeyEvent-v2.avsc");
        Schema v3 = legacy("KeyEvent-v3.avsc");
        DECODER.addSchema(v1);
        DECODER.addSchema(v2);
        DECODER.addSchema(v3);
        V2_ENCODER = new BinaryMessageEncoder<>(org.apache.avro.specific.SpecificData.get(), v2);
        V3_ENCODER = new BinaryMessageEncoder<>(org.apache.avro.specific.SpecificData.get(), v3);
        for (Schema s : new Schema[] {v1, v2, v3, KeyEvent.getClassSchema(), SignedKeyEvent.getClassSchema()}) {
            KNOWN.put(SchemaNormalization.parsingFingerprint64(s), s);
        }
    }

    private static Schema legacy(String file) {
        try (InputStream in = KeyEvents.class.getResourceAsStream("/io/embedseal/schemas/legacy/" + file)) {
            if (in == null) {
                throw new IllegalStateException(file + " is missing from the schemas jar");
            }
            return new Schema.Parser().parse(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A record value as read: the event, and its signature if it has one.
     *
     * @param event      the decoded event (not yet verified)
     * @param eventBytes the bytes the signature covers (after the context string)
     * @param signer     the signing key's id, null for an unsigned event
     * @param signature  null for an unsigned event
     */
    public record Read(
            KeyEvent event, byte[] eventBytes, @Nullable String signer, byte @Nullable [] signature) {
        public boolean isSigned() {
            return signature != null;
        }
    }

    private KeyEvents() {}

    /** A key event that is not one, or breaks the rules (the tenant id it claims, its version). */
    public static class InvalidKeyEventException extends RuntimeException {
        public InvalidKeyEventException(String message, @Nullable Throwable cause) {
            super(message, cause);
        }
    }

    public static byte[] encode(KeyEvent event) {
        try {
            BinaryMessageEncoder<KeyEvent> encoder = event.getKekPublicKey() != null
                    ? ENCODER
                    : event.getType() == KeyEventType.MIGRATED ? V3_ENCODER : V2_ENCODER;
            return bytes(encoder.encode(event));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The record value of a signed event: the event's bytes, the signer's key id and the signature over them. */
    public static byte[] encodeSigned(byte[] eventBytes, String signer, byte[] signature) {
        try {
            ByteBuffer b = SIGNED_ENCODER.encode(SignedKeyEvent.newBuilder()
                    .setEvent(ByteBuffer.wrap(eventBytes))
                    .setSigner(signer)
                    .setSignature(ByteBuffer.wrap(signature))
                    .build());
            return bytes(b);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Reads a record value, signed or not, without verifying anything but its shape.
     *
     * @param key the record key, which must be the event's tenant id
     * @throws InvalidKeyEventException if the bytes are not a key event for that tenant
     */
    public static Read read(String key, byte[] value) {
        if (value.length > MAX_VALUE_BYTES) {
            throw new InvalidKeyEventException(
                    "key event for " + key + " is " + value.length + " bytes, over " + MAX_VALUE_BYTES, null);
        }
        SignedKeyEvent signed = null;
        if (checkedSchema(value) == SignedKeyEvent.getClassSchema()) {
            try {
                signed = SIGNED_DECODER.decode(value);
            } catch (IOException | RuntimeException ex) {
                throw new InvalidKeyEventException(
                        "signed key event for " + key + " does not decode ("
                                + ex.getClass().getSimpleName() + ")",
                        ex);
            }
        }
        if (signed != null) {
            byte[] eventBytes = bytes(signed.getEvent());
            return new Read(decode(key, eventBytes), eventBytes, signed.getSigner(), bytes(signed.getSignature()));
        }
        return new Read(decode(key, value), value, null, null);
    }

    /** A key-event record value is a few hundred bytes; anything far larger is refused before it is decoded. */
    public static final int MAX_VALUE_BYTES = 64 * 1024;

    /**
     * The writer schema a single-object-encoded value names (SignedKeyEvent, KeyEvent, or KeyEvent version 1), after
     * checking every length it declares against the bytes there: null if it names none, or a length does not hold.
     */
    private static @Nullable Schema checkedSchema(byte[] value) {
        if (value.length < 10 || value[0] != (byte) 0xC3 || value[1] != (byte) 0x01) {
            return null;
        }
        long fingerprint = ByteBuffer.wrap(value, 2, 8)
                .order(java.nio.ByteOrder.LITTLE_ENDIAN)
                .getLong();
        Schema s = KNOWN.get(fingerprint);
        if (s == null) {
            return null;
        }
        try {
            AvroLengths.check(s, value, 10, value.length - 10);
            return s;
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static byte[] bytes(ByteBuffer b) {
        ByteBuffer d = b.duplicate();
        byte[] out = new byte[d.remaining()];
        d.get(out);
        return out;
    }

    /**
     * Decodes the event itself (the bytes inside a signed record, or a whole unsigned record).
     *
     * @param key the record key, which must be the event's tenant id
     * @throws InvalidKeyEventException if the bytes are not a key event for that tenant
     */
    public static KeyEvent decode(String key, byte[] value) {
        Schema writer = checkedSchema(value);
        if (writer == null || writer == SignedKeyEvent.getClassSchema()) {
            throw new InvalidKeyEventException(
                    "key event for " + key + " is not a key event of a known schema, or its lengths do not hold", null);
        }
        KeyEvent e;
        try {
            e = DECODER.decode(value);
        } catch (IOException | RuntimeException ex) {
            throw new InvalidKeyEventException(
                    "key event for " + key + " does not decode ("
                            + ex.getClass().getSimpleName() + ")",
                    ex);
        }
        if (e.getType() == null || e.getKms() == null || e.getTime() == null) {
            throw new InvalidKeyEventException("key event for " + key + " lacks its type, KMS or time", null);
        }
        if (e.getKms().length() > 64
                || e.getKekName() == null
                || e.getKekName().length() > 200
                || e.getActor() == null
                || e.getActor().length() > 256
                || (e.getReason() != null && e.getReason().length() > 1024)
                || (e.getAuthority() != null && e.getAuthority().length() > 4096)
                || (e.getKekPublicKey() != null && e.getKekPublicKey().remaining() > MAX_PUBLIC_KEY_BYTES)) {
            throw new InvalidKeyEventException("key event for " + key + " has a field longer than allowed", null);
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

    /** An RSA-4096 SubjectPublicKeyInfo is 550 bytes; anything much larger is no KEK's public key. */
    static final int MAX_PUBLIC_KEY_BYTES = 2048;

    /** The public key an event pins, as SubjectPublicKeyInfo bytes; null when it pins none. */
    public static byte @Nullable [] publicKey(KeyEvent e) {
        return e.getKekPublicKey() == null ? null : bytes(e.getKekPublicKey());
    }

    /** The tenant state an event leaves behind. */
    public static TenantState toState(KeyEvent e) {
        TenantStatus status = switch (e.getType()) {
            case REGISTERED, ROTATED, RESTORED, MIGRATED -> TenantStatus.ACTIVE;
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
                e.getTime(),
                e.getSequence(),
                e.getAuthority(),
                e.getKekPublicKey() == null
                        ? null
                        : java.util.Base64.getEncoder().encodeToString(bytes(e.getKekPublicKey())));
    }

    /** A key event with the fields every event needs, sequence 0 (unsigned, development) and no authority. */
    public static KeyEvent event(
            String tenantId,
            KeyEventType type,
            String kms,
            String kekName,
            int kekVersion,
            String actor,
            @Nullable String reason) {
        return event(tenantId, type, kms, kekName, kekVersion, actor, reason, 0, null);
    }

    /**
     * A key event.
     *
     * @param sequence  one more than the tenant's last event (REGISTERED: 1)
     * @param authority REGISTERED only: the public key (base64 X.509) that signs the tenant's later events, or
     *                  null for the operator's keys
     */
    public static KeyEvent event(
            String tenantId,
            KeyEventType type,
            String kms,
            String kekName,
            int kekVersion,
            String actor,
            @Nullable String reason,
            long sequence,
            @Nullable String authority) {
        return event(tenantId, type, kms, kekName, kekVersion, actor, reason, sequence, authority, null);
    }

    /**
     * A key event that pins a public KEK (REGISTERED, ROTATED or MIGRATED of a tenant whose KEK is a key pair).
     *
     * @param publicKek the public half of the KEK version the event names, or null for a symmetric KEK
     * @throws IllegalArgumentException if the public KEK is not that version's
     */
    public static KeyEvent event(
            String tenantId,
            KeyEventType type,
            String kms,
            String kekName,
            int kekVersion,
            String actor,
            @Nullable String reason,
            long sequence,
            @Nullable String authority,
            io.embedseal.keyring.kms.@Nullable PublicKek publicKek) {
        if (publicKek != null
                && !publicKek.kek().equals(new io.embedseal.keyring.kms.KekRef(kms, kekName, kekVersion))) {
            throw new IllegalArgumentException("the public KEK " + publicKek.kek() + " is not the key event's " + kms
                    + ":" + kekName + ":" + kekVersion);
        }
        return KeyEvent.newBuilder()
                .setTenantId(tenantId)
                .setType(type)
                .setKms(kms)
                .setKekName(kekName)
                .setKekVersion(kekVersion)
                .setTime(java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS))
                .setActor(actor)
                .setReason(reason)
                .setSequence(sequence)
                .setAuthority(authority)
                .setKekPublicKey(publicKek == null ? null : ByteBuffer.wrap(publicKek.spki()))
                .build();
    }
}
