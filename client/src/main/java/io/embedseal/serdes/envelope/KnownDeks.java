package io.embedseal.serdes.envelope;

import io.embedseal.keyring.dek.Dek;
import io.embedseal.keyring.dek.DekId;
import io.embedseal.keyring.kms.KekRef;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * One thread's table of DEKs it recently opened envelopes with, by DEK id (64 slots, direct-mapped): what a full parse
 * and a {@link io.embedseal.keyring.Keyring#openDek} established about a DEK (its tenant, its KEK reference and wrapped
 * form exactly as the envelope carried them), so the next envelope under the same DEK is checked against those bytes
 * instead of being decoded into strings and looked up again. Confined to its thread; see
 * {@link EnvelopeHeader#parseKnown} and {@link Sealer#unseal}.
 */
final class KnownDeks {

    private static final int SLOTS = 64;

    /**
     * @param kekRefBytes    the envelope's KEK reference, byte for byte
     * @param checkedAtNanos when {@link io.embedseal.keyring.Keyring#openDek} last vouched for it
     */
    record Slot(
            String tenantId,
            DekId dekId,
            KekRef kek,
            byte[] kekRefBytes,
            byte[] wrapped,
            Dek dek,
            long checkedAtNanos) {}

    private final @Nullable Slot[] slots = new Slot[SLOTS];
    /** The slot {@link EnvelopeHeader#parseKnown} matched last. */
    @Nullable
    Slot matched;

    /** The slot of the DEK id at {@code envelope[at, at+16)}, or null. */
    @Nullable
    Slot find(byte[] envelope, int at) {
        Slot s = slots[index(envelope, at)];
        return s != null && s.dekId().matches(envelope, at) ? s : null;
    }

    /** Keeps what a full parse of a version-2 envelope, opened with {@code dek}, established. */
    void remember(byte[] envelope, EnvelopeHeader h, Dek dek, long nowNanos) {
        int at = h.associatedDataLength(); // version 2: the key slot starts right after the associated data
        int kekRefLength = envelope[at] & 0xFF;
        byte[] kekRef = Arrays.copyOfRange(envelope, at + 1, at + 1 + kekRefLength);
        byte[] id = h.dekId().toBytes();
        slots[index(id, 0)] = new Slot(h.tenantId(), h.dekId(), h.kek(), kekRef, h.wrappedDekUnsafe(), dek, nowNanos);
    }

    void forget(Slot s) {
        for (int i = 0; i < SLOTS; i++) {
            if (slots[i] == s) {
                slots[i] = null;
            }
        }
    }

    private static int index(byte[] b, int at) {
        return ((b[at] & 0xFF) | ((b[at + 1] & 0xFF) << 8)) & (SLOTS - 1); // DEK ids are random bytes
    }
}
