package io.embedseal.serdes.envelope;

import io.embedseal.keyring.TenantIds;
import io.embedseal.keyring.dek.Dek;
import io.embedseal.keyring.dek.DekId;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.serdes.envelope.EnvelopeException.Reason;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * The cleartext header of an envelope, version 1 or 2, parsed with every length checked against both its field's
 * limit and the bytes actually left before anything is allocated. Version 2 is what this code writes:
 *
 * <pre>
 * offset size      field
 * 0      3         magic "ESL" (0x45 0x53 0x4C)
 * 3      1         format version, 0x02
 * 4      1         payload type (0x01: EmbeddingEvent, 0x02: raw record value, 0x03: delete marker)
 * 5      1         T = tenant id length, 1..64
 * 6      T         tenant id, UTF-8, matching the tenant id rule
 *        2         E = embedding id length, big-endian, 1..1024
 *        E         embedding id, UTF-8
 *        1         P = purpose length, 1..64
 *        P         purpose, printable ASCII (e.g. "embeddings.sealed")
 *        8         record version: event time, ms since the epoch, big-endian, below 2^63
 *        8         record version: sequence, big-endian, below 2^63
 *        1         DEK id length, always 16
 *        16        DEK id
 *        4         C = ciphertext length, big-endian, 28..16 MiB
 *        ------    the associated data of the payload is every byte above
 *        1         K = KEK reference length, 1..255
 *        K         KEK reference "provider:keyName:version", ASCII
 *        2         W = wrapped DEK length, big-endian, 1..1024
 *        W         wrapped DEK, as the KMS returned it
 *        C         AES-256-GCM: nonce (12) || ciphertext || tag (16)
 * </pre>
 * The KEK reference and the wrapped DEK (the <em>key slot</em>) are outside the payload's associated data, so a DEK
 * can be re-wrapped under another KEK version, or another KMS, by replacing the key slot alone ({@link
 * #withKeySlot}); the KMS binds each wrapped DEK to its tenant and DEK id, which is what keeps the slot honest.
 * Version 1 (read, never written) authenticates every byte before the ciphertext, key slot included, and carries no
 * purpose and no record version. Nothing may follow the ciphertext. See {@code docs/envelope-format.md}.
 */
public final class EnvelopeHeader {

    static final byte[] MAGIC = {0x45, 0x53, 0x4C};
    /** The first format version: read, not written. */
    public static final int VERSION_1 = 1;
    /** The format version this code writes. */
    public static final int VERSION_2 = 2;

    public static final int MAX_TENANT_ID_BYTES = TenantIds.MAX_LENGTH;
    public static final int MAX_EMBEDDING_ID_BYTES = 1024;
    public static final int MAX_PURPOSE_BYTES = 64;
    public static final int MAX_KEK_REF_BYTES = 255;
    public static final int MAX_WRAPPED_DEK_BYTES = 1024;
    public static final int MIN_CIPHERTEXT_BYTES = Dek.OVERHEAD;
    public static final int MAX_CIPHERTEXT_BYTES = 16 * 1024 * 1024;

    private final int formatVersion;
    private final PayloadType payloadType;
    private final String tenantId;
    private final String embeddingId;
    private final @Nullable String purpose;
    private final RecordVersion recordVersion;
    private final KekRef kek;
    private final DekId dekId;
    private final byte[] wrappedDek;
    private final int associatedDataLength;
    private final int ciphertextOffset;
    private final int ciphertextLength;

    private EnvelopeHeader(
            int formatVersion,
            PayloadType payloadType,
            String tenantId,
            String embeddingId,
            @Nullable String purpose,
            RecordVersion recordVersion,
            KekRef kek,
            DekId dekId,
            byte[] wrappedDek,
            int associatedDataLength,
            int ciphertextOffset,
            int ciphertextLength) {
        this.formatVersion = formatVersion;
        this.payloadType = payloadType;
        this.tenantId = tenantId;
        this.embeddingId = embeddingId;
        this.purpose = purpose;
        this.recordVersion = recordVersion;
        this.kek = kek;
        this.dekId = dekId;
        this.wrappedDek = wrappedDek;
        this.associatedDataLength = associatedDataLength;
        this.ciphertextOffset = ciphertextOffset;
        this.ciphertextLength = ciphertextLength;
    }

    /**
     * Reads the header of an envelope without decrypting anything.
     *
     * @throws EnvelopeException with {@code NOT_AN_ENVELOPE}, {@code UNSUPPORTED_VERSION},
     *                           {@code UNSUPPORTED_PAYLOAD}, {@code TRUNCATED}, {@code FIELD_OUT_OF_BOUNDS} or
     *                           {@code MALFORMED}
     */
    public static EnvelopeHeader parse(byte[] envelope) {
        if (envelope == null
                || envelope.length < 4
                || envelope[0] != MAGIC[0]
                || envelope[1] != MAGIC[1]
                || envelope[2] != MAGIC[2]) {
            throw new EnvelopeException(Reason.NOT_AN_ENVELOPE, "input does not start with the envelope magic bytes");
        }
        int version = envelope[3] & 0xFF;
        if (version != VERSION_1 && version != VERSION_2) {
            throw new EnvelopeException(
                    Reason.UNSUPPORTED_VERSION,
                    "envelope format version " + version + " is not supported by this reader (it reads versions "
                            + VERSION_1 + " and " + VERSION_2 + ")");
        }
        Reader in = new Reader(envelope, 4);
        int payloadCode = in.u8("payload type");
        PayloadType payloadType = PayloadType.ofCode(payloadCode);
        if (payloadType == null || (version == VERSION_1 && payloadType == PayloadType.DELETE_MARKER)) {
            throw new EnvelopeException(Reason.UNSUPPORTED_PAYLOAD, "payload type " + payloadCode + " is unknown");
        }
        String tenantId =
                in.utf8(in.length(in.u8("tenant id length"), 1, MAX_TENANT_ID_BYTES, "tenant id"), "tenant id");
        if (!TenantIds.isValid(tenantId)) {
            throw new EnvelopeException(Reason.MALFORMED, "tenant id breaks the rule: " + TenantIds.describeRule());
        }
        String embeddingId = in.utf8(
                in.length(in.u16("embedding id length"), 1, MAX_EMBEDDING_ID_BYTES, "embedding id"), "embedding id");
        return version == VERSION_1
                ? parseRest1(envelope, in, payloadType, tenantId, embeddingId)
                : parseRest2(envelope, in, payloadType, tenantId, embeddingId);
    }

    /**
     * The fast path of opening: a version-2 envelope bound to {@code tenantId} and {@code embeddingId} and sealed for
     * {@code purposeBytes}, whose DEK id, KEK reference and wrapped DEK are byte for byte those of a slot of
     * {@code known} (a DEK an envelope was parsed in full and opened with before). Every check of {@link #parse} holds
     * for what it returns; the strings and the key slot are the caller's and the table's instead of decoded again.
     * Returns null (the caller parses in full, which classifies the envelope) whenever anything differs: another
     * version, tenant, id (or one that is not ASCII), purpose or DEK, a field out of bounds, bytes missing or left over.
     * Sets {@code known.matched} to the slot it used.
     */
    static @Nullable EnvelopeHeader parseKnown(
            byte[] e, String tenantId, String embeddingId, byte[] purposeBytes, String purpose, KnownDeks known) {
        int n = e.length;
        if (n < 6 || e[0] != MAGIC[0] || e[1] != MAGIC[1] || e[2] != MAGIC[2] || (e[3] & 0xFF) != VERSION_2) {
            return null;
        }
        PayloadType payloadType = PayloadType.ofCode(e[4] & 0xFF);
        if (payloadType == null) {
            return null;
        }
        int p = 5;
        int t = e[p++] & 0xFF;
        if (t < 1 || t > MAX_TENANT_ID_BYTES || !asciiEquals(e, p, t, tenantId)) {
            return null;
        }
        p += t;
        if (p + 2 > n) {
            return null;
        }
        int idLength = ((e[p] & 0xFF) << 8) | (e[p + 1] & 0xFF);
        p += 2;
        if (idLength < 1 || idLength > MAX_EMBEDDING_ID_BYTES || !asciiEquals(e, p, idLength, embeddingId)) {
            return null;
        }
        p += idLength;
        if (p + 1 > n) {
            return null;
        }
        int purposeLength = e[p++] & 0xFF;
        if (purposeLength != purposeBytes.length
                || p + purposeLength > n
                || !Arrays.equals(e, p, p + purposeLength, purposeBytes, 0, purposeLength)) {
            return null;
        }
        p += purposeLength;
        if (p + RecordVersion.BYTES + 1 + DekId.LENGTH + 4 > n) {
            return null;
        }
        RecordVersion recordVersion;
        try {
            recordVersion = RecordVersion.read(e, p);
        } catch (IllegalArgumentException tooLarge) {
            return null;
        }
        p += RecordVersion.BYTES;
        if ((e[p++] & 0xFF) != DekId.LENGTH) {
            return null;
        }
        KnownDeks.Slot slot = known.find(e, p);
        if (slot == null || !slot.tenantId().equals(tenantId)) {
            return null;
        }
        p += DekId.LENGTH;
        long ciphertextLength =
                ((long) (e[p] & 0xFF) << 24) | ((e[p + 1] & 0xFF) << 16) | ((e[p + 2] & 0xFF) << 8) | (e[p + 3] & 0xFF);
        p += 4;
        if (ciphertextLength < MIN_CIPHERTEXT_BYTES || ciphertextLength > MAX_CIPHERTEXT_BYTES) {
            return null;
        }
        int associatedDataLength = p;
        byte[] kekRef = slot.kekRefBytes();
        if (p + 1 > n || (e[p++] & 0xFF) != kekRef.length || p + kekRef.length > n) {
            return null;
        }
        if (!Arrays.equals(e, p, p + kekRef.length, kekRef, 0, kekRef.length)) {
            return null;
        }
        p += kekRef.length;
        byte[] wrapped = slot.wrapped();
        if (p + 2 > n || (((e[p] & 0xFF) << 8) | (e[p + 1] & 0xFF)) != wrapped.length) {
            return null;
        }
        p += 2;
        if (p + wrapped.length > n || !Arrays.equals(e, p, p + wrapped.length, wrapped, 0, wrapped.length)) {
            return null;
        }
        p += wrapped.length;
        if (p + ciphertextLength != n) {
            return null;
        }
        known.matched = slot;
        return new EnvelopeHeader(
                VERSION_2,
                payloadType,
                tenantId,
                embeddingId,
                purpose,
                recordVersion,
                slot.kek(),
                slot.dekId(),
                wrapped,
                associatedDataLength,
                p,
                (int) ciphertextLength);
    }

    /** Whether {@code e[at, at+length)} is {@code s} in ASCII (false for a string that is not ASCII). */
    private static boolean asciiEquals(byte[] e, int at, int length, String s) {
        if (s.length() != length || at + length > e.length) {
            return false;
        }
        for (int i = 0; i < length; i++) {
            char c = s.charAt(i);
            if (c >= 0x80 || e[at + i] != (byte) c) {
                return false;
            }
        }
        return true;
    }

    private static EnvelopeHeader parseRest1(
            byte[] envelope, Reader in, PayloadType payloadType, String tenantId, String embeddingId) {
        KekRef kek = kekRef(in);
        DekId dekId = dekId(envelope, in);
        byte[] wrapped = wrapped(envelope, in);
        int ciphertextLength =
                in.length(in.u32("ciphertext length"), MIN_CIPHERTEXT_BYTES, MAX_CIPHERTEXT_BYTES, "ciphertext");
        int ciphertextOffset = in.take(ciphertextLength, "ciphertext");
        requireEnd(envelope, in);
        return new EnvelopeHeader(
                VERSION_1,
                payloadType,
                tenantId,
                embeddingId,
                null,
                RecordVersion.NONE,
                kek,
                dekId,
                wrapped,
                ciphertextOffset,
                ciphertextOffset,
                ciphertextLength);
    }

    private static EnvelopeHeader parseRest2(
            byte[] envelope, Reader in, PayloadType payloadType, String tenantId, String embeddingId) {
        int purposeLength = in.length(in.u8("purpose length"), 1, MAX_PURPOSE_BYTES, "purpose");
        int purposeStart = in.take(purposeLength, "purpose");
        for (int i = purposeStart; i < purposeStart + purposeLength; i++) {
            if (envelope[i] < 0x21 || envelope[i] > 0x7e) {
                throw new EnvelopeException(Reason.MALFORMED, "purpose is not printable ASCII");
            }
        }
        String purpose = new String(envelope, purposeStart, purposeLength, StandardCharsets.US_ASCII);
        int versionAt = in.take(RecordVersion.BYTES, "record version");
        RecordVersion recordVersion;
        try {
            recordVersion = RecordVersion.read(envelope, versionAt);
        } catch (IllegalArgumentException e) {
            throw new EnvelopeException(Reason.MALFORMED, "record version is 2^63 or more", e);
        }
        DekId dekId = dekId(envelope, in);
        int ciphertextLength =
                in.length(in.u32("ciphertext length"), MIN_CIPHERTEXT_BYTES, MAX_CIPHERTEXT_BYTES, "ciphertext");
        int associatedDataLength = in.position();
        KekRef kek = kekRef(in);
        byte[] wrapped = wrapped(envelope, in);
        int ciphertextOffset = in.take(ciphertextLength, "ciphertext");
        requireEnd(envelope, in);
        return new EnvelopeHeader(
                VERSION_2,
                payloadType,
                tenantId,
                embeddingId,
                purpose,
                recordVersion,
                kek,
                dekId,
                wrapped,
                associatedDataLength,
                ciphertextOffset,
                ciphertextLength);
    }

    private static KekRef kekRef(Reader in) {
        String kekText = in.utf8(
                in.length(in.u8("KEK reference length"), 1, MAX_KEK_REF_BYTES, "KEK reference"), "KEK reference");
        try {
            return KekRef.parse(kekText);
        } catch (IllegalArgumentException e) {
            throw new EnvelopeException(Reason.MALFORMED, "KEK reference is not provider:keyName:version", e);
        }
    }

    private static DekId dekId(byte[] envelope, Reader in) {
        int dekIdLength = in.length(in.u8("DEK id length"), DekId.LENGTH, DekId.LENGTH, "DEK id");
        return DekId.of(envelope, in.take(dekIdLength, "DEK id"), dekIdLength);
    }

    private static byte[] wrapped(byte[] envelope, Reader in) {
        int wrappedLength = in.length(in.u16("wrapped DEK length"), 1, MAX_WRAPPED_DEK_BYTES, "wrapped DEK");
        int wrappedOffset = in.take(wrappedLength, "wrapped DEK");
        return Arrays.copyOfRange(envelope, wrappedOffset, wrappedOffset + wrappedLength);
    }

    private static void requireEnd(byte[] envelope, Reader in) {
        if (in.position() != envelope.length) {
            throw new EnvelopeException(
                    Reason.MALFORMED,
                    (envelope.length - in.position())
                            + " bytes follow the ciphertext; an envelope ends with its ciphertext");
        }
    }

    /** The fields of a version-2 header, encoded and checked against their limits, before the DEK is known. */
    record Fields2(
            PayloadType payloadType, byte[] tenantId, byte[] embeddingId, byte[] purpose, RecordVersion version) {}

    /**
     * The length of a version-2 header (everything before the ciphertext) for these fields.
     *
     * @throws IllegalArgumentException if a field exceeds its envelope limit
     */
    static int headerLength(Fields2 f, Dek dek, int plaintextLength) {
        requireLength(f.tenantId().length, 1, MAX_TENANT_ID_BYTES, "tenant id");
        requireLength(f.embeddingId().length, 1, MAX_EMBEDDING_ID_BYTES, "embedding id");
        requireLength(f.purpose().length, 1, MAX_PURPOSE_BYTES, "purpose");
        requireLength(dek.kekRefLength(), 1, MAX_KEK_REF_BYTES, "KEK reference");
        requireLength(dek.wrappedLength(), 1, MAX_WRAPPED_DEK_BYTES, "wrapped DEK");
        requireLength((long) plaintextLength + Dek.OVERHEAD, MIN_CIPHERTEXT_BYTES, MAX_CIPHERTEXT_BYTES, "ciphertext");
        return associatedDataLength(f) + 1 + dek.kekRefLength() + 2 + dek.wrappedLength();
    }

    /** The length of a version-2 header's authenticated part. */
    static int associatedDataLength(Fields2 f) {
        return 3
                + 1
                + 1
                + 1
                + f.tenantId().length
                + 2
                + f.embeddingId().length
                + 1
                + f.purpose().length
                + RecordVersion.BYTES
                + 1
                + DekId.LENGTH
                + 4;
    }

    /**
     * Writes a version-2 header into {@code out} from offset 0; {@link #headerLength} must have accepted the fields.
     * Its first {@link #associatedDataLength} bytes are the AEAD's associated data.
     */
    static void write(byte[] out, Fields2 f, Dek dek, int plaintextLength) {
        ByteBuffer b = ByteBuffer.wrap(out);
        b.put(MAGIC).put((byte) VERSION_2).put((byte) f.payloadType().code());
        b.put((byte) f.tenantId().length).put(f.tenantId());
        b.putShort((short) f.embeddingId().length).put(f.embeddingId());
        b.put((byte) f.purpose().length).put(f.purpose());
        f.version().writeTo(out, b.position());
        b.position(b.position() + RecordVersion.BYTES);
        b.put((byte) DekId.LENGTH);
        dek.id().copyTo(out, b.position());
        b.position(b.position() + DekId.LENGTH);
        b.putInt(plaintextLength + Dek.OVERHEAD);
        b.put((byte) dek.kekRefLength());
        dek.copyKekRefTo(out, b.position());
        b.position(b.position() + dek.kekRefLength());
        b.putShort((short) dek.wrappedLength());
        dek.copyWrappedTo(out, b.position());
    }

    /**
     * The length of a version-1 header for these fields (compatibility tests and benchmarks only).
     *
     * @throws IllegalArgumentException if a field exceeds its envelope limit
     */
    static int headerLength1(byte[] tenantId, byte[] embeddingId, Dek dek, int plaintextLength) {
        requireLength(tenantId.length, 1, MAX_TENANT_ID_BYTES, "tenant id");
        requireLength(embeddingId.length, 1, MAX_EMBEDDING_ID_BYTES, "embedding id");
        requireLength(dek.kekRefLength(), 1, MAX_KEK_REF_BYTES, "KEK reference");
        requireLength(dek.wrappedLength(), 1, MAX_WRAPPED_DEK_BYTES, "wrapped DEK");
        requireLength((long) plaintextLength + Dek.OVERHEAD, MIN_CIPHERTEXT_BYTES, MAX_CIPHERTEXT_BYTES, "ciphertext");
        return 3
                + 1
                + 1
                + 1
                + tenantId.length
                + 2
                + embeddingId.length
                + 1
                + dek.kekRefLength()
                + 1
                + DekId.LENGTH
                + 2
                + dek.wrappedLength()
                + 4;
    }

    /** Writes a version-1 header (compatibility tests and benchmarks only); all of it is associated data. */
    static void write1(
            byte[] out, PayloadType payloadType, byte[] tenantId, byte[] embeddingId, Dek dek, int plaintextLength) {
        ByteBuffer b = ByteBuffer.wrap(out);
        b.put(MAGIC).put((byte) VERSION_1).put((byte) payloadType.code());
        b.put((byte) tenantId.length).put(tenantId);
        b.putShort((short) embeddingId.length).put(embeddingId);
        b.put((byte) dek.kekRefLength());
        dek.copyKekRefTo(out, b.position());
        b.position(b.position() + dek.kekRefLength());
        b.put((byte) DekId.LENGTH);
        dek.id().copyTo(out, b.position());
        b.position(b.position() + DekId.LENGTH);
        b.putShort((short) dek.wrappedLength());
        dek.copyWrappedTo(out, b.position());
        b.position(b.position() + dek.wrappedLength());
        b.putInt(plaintextLength + Dek.OVERHEAD);
    }

    /**
     * The same version-2 envelope with another key slot: the DEK wrapped under {@code kek} (a newer version of the
     * tenant's KEK, or a KEK in another KMS). The authenticated header and the ciphertext are copied unchanged;
     * nothing is decrypted. The caller must have the KMS wrap the same DEK, bound to the same tenant and DEK id.
     *
     * @throws EnvelopeException        as {@link #parse} does, or {@code UNSUPPORTED_VERSION} for a version-1
     *                                  envelope, whose key slot is authenticated and cannot be replaced
     * @throws IllegalArgumentException if the KEK reference or the wrapped DEK exceeds its limit
     */
    public static byte[] withKeySlot(byte[] envelope, KekRef kek, byte[] wrappedDek) {
        EnvelopeHeader h = parse(envelope);
        if (h.formatVersion != VERSION_2) {
            throw new EnvelopeException(
                    Reason.UNSUPPORTED_VERSION,
                    "a version-1 envelope authenticates its wrapped DEK and cannot be re-wrapped in place");
        }
        byte[] ref = kek.toString().getBytes(StandardCharsets.US_ASCII);
        requireLength(ref.length, 1, MAX_KEK_REF_BYTES, "KEK reference");
        requireLength(wrappedDek.length, 1, MAX_WRAPPED_DEK_BYTES, "wrapped DEK");
        int slot = 1 + ref.length + 2 + wrappedDek.length;
        byte[] out = new byte[h.associatedDataLength + slot + h.ciphertextLength];
        System.arraycopy(envelope, 0, out, 0, h.associatedDataLength);
        ByteBuffer b = ByteBuffer.wrap(out, h.associatedDataLength, slot);
        b.put((byte) ref.length).put(ref).putShort((short) wrappedDek.length).put(wrappedDek);
        System.arraycopy(envelope, h.ciphertextOffset, out, h.associatedDataLength + slot, h.ciphertextLength);
        return out;
    }

    private static void requireLength(long length, int min, int max, String field) {
        if (length < min || length > max) {
            throw new IllegalArgumentException(field + " must be " + min + ".." + max + " bytes, got " + length);
        }
    }

    /** 1 or 2. */
    public int formatVersion() {
        return formatVersion;
    }

    public PayloadType payloadType() {
        return payloadType;
    }

    public String tenantId() {
        return tenantId;
    }

    public String embeddingId() {
        return embeddingId;
    }

    /** What the envelope was sealed for (version 2), or null (version 1 has none). */
    public @Nullable String purpose() {
        return purpose;
    }

    /** The record's version; {@link RecordVersion#NONE} for version 1. Authenticated only once the envelope opened. */
    public RecordVersion recordVersion() {
        return recordVersion;
    }

    public KekRef kek() {
        return kek;
    }

    public DekId dekId() {
        return dekId;
    }

    /** A copy of the wrapped DEK (opaque; safe to log its length, not needed to log it). */
    public byte[] wrappedDek() {
        return wrappedDek.clone();
    }

    byte[] wrappedDekUnsafe() {
        return wrappedDek;
    }

    /** How many bytes from the start the payload's AEAD authenticates. */
    public int associatedDataLength() {
        return associatedDataLength;
    }

    /** Where the ciphertext starts. */
    public int ciphertextOffset() {
        return ciphertextOffset;
    }

    public int ciphertextLength() {
        return ciphertextLength;
    }

    @Override
    public String toString() {
        return "EnvelopeHeader[v" + formatVersion + ", payload=" + payloadType + ", tenant=" + tenantId
                + ", embeddingId=" + embeddingId + (purpose == null ? "" : ", purpose=" + purpose)
                + (formatVersion == VERSION_1 ? "" : ", version=" + recordVersion) + ", kek=" + kek + ", dek=" + dekId
                + ", wrappedDek=" + wrappedDek.length + " bytes, ciphertext=" + ciphertextLength + " bytes]";
    }

    /** Reads big-endian fields, refusing any read past the end with a typed error. */
    private static final class Reader {
        private final byte[] buf;
        private int pos;

        Reader(byte[] buf, int pos) {
            this.buf = buf;
            this.pos = pos;
        }

        int position() {
            return pos;
        }

        int u8(String field) {
            return buf[take(1, field)] & 0xFF;
        }

        int u16(String field) {
            int p = take(2, field);
            return ((buf[p] & 0xFF) << 8) | (buf[p + 1] & 0xFF);
        }

        long u32(String field) {
            int p = take(4, field);
            return ((long) (buf[p] & 0xFF) << 24)
                    | ((buf[p + 1] & 0xFF) << 16)
                    | ((buf[p + 2] & 0xFF) << 8)
                    | (buf[p + 3] & 0xFF);
        }

        /** Checks a declared length against its field's range; returns it as an int. */
        int length(long declared, int min, int max, String field) {
            if (declared < min || declared > max) {
                throw new EnvelopeException(
                        Reason.FIELD_OUT_OF_BOUNDS, field + " length " + declared + " is outside " + min + ".." + max);
            }
            return (int) declared;
        }

        /** Advances past {@code n} bytes that must be present; returns where they start. */
        int take(int n, String field) {
            if (n > buf.length - pos) {
                throw new EnvelopeException(
                        Reason.TRUNCATED, field + " needs " + n + " bytes but only " + (buf.length - pos) + " remain");
            }
            int start = pos;
            pos += n;
            return start;
        }

        String utf8(int n, String field) {
            int start = take(n, field);
            boolean ascii = true;
            for (int i = start; i < start + n; i++) {
                if (buf[i] < 0) {
                    ascii = false;
                    break;
                }
            }
            if (ascii) {
                return new String(buf, start, n, StandardCharsets.US_ASCII); // every ASCII byte sequence is valid UTF-8
            }
            try {
                return StandardCharsets.UTF_8
                        .newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(buf, start, n))
                        .toString();
            } catch (CharacterCodingException e) {
                throw new EnvelopeException(Reason.MALFORMED, field + " is not valid UTF-8", e);
            }
        }
    }
}
