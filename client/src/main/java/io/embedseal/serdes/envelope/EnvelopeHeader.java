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

/**
 * The cleartext header of a version-1 envelope, parsed with every length checked against both its field's
 * limit and the bytes actually left before anything is allocated.
 *
 * <pre>
 * offset size      field
 * 0      3         magic "ESL" (0x45 0x53 0x4C)
 * 3      1         format version, 0x01
 * 4      1         payload type (0x01: EmbeddingEvent, Avro binary)
 * 5      1         T = tenant id length, 1..64
 * 6      T         tenant id, UTF-8, matching the tenant id rule
 *        2         E = embedding id length, big-endian, 1..1024
 *        E         embedding id, UTF-8
 *        1         K = KEK reference length, 1..255
 *        K         KEK reference "provider:keyName:version", ASCII
 *        1         DEK id length, always 16
 *        16        DEK id
 *        2         W = wrapped DEK length, big-endian, 1..1024
 *        W         wrapped DEK, as the KMS returned it
 *        4         C = ciphertext length, big-endian, 28..16 MiB
 *        C         AES-256-GCM: nonce (12) || ciphertext || tag (16)
 * </pre>
 * The associated data of the AEAD is every byte before the ciphertext, so no header field can be changed
 * without the envelope failing to open. Nothing may follow the ciphertext. See {@code docs/envelope-format.md}.
 */
public final class EnvelopeHeader {

    static final byte[] MAGIC = {0x45, 0x53, 0x4C};
    /** The only format version this code writes. */
    public static final int VERSION_1 = 1;

    public static final int MAX_TENANT_ID_BYTES = TenantIds.MAX_LENGTH;
    public static final int MAX_EMBEDDING_ID_BYTES = 1024;
    public static final int MAX_KEK_REF_BYTES = 255;
    public static final int MAX_WRAPPED_DEK_BYTES = 1024;
    public static final int MIN_CIPHERTEXT_BYTES = Dek.OVERHEAD;
    public static final int MAX_CIPHERTEXT_BYTES = 16 * 1024 * 1024;

    private final PayloadType payloadType;
    private final String tenantId;
    private final String embeddingId;
    private final KekRef kek;
    private final DekId dekId;
    private final byte[] wrappedDek;
    private final int ciphertextOffset;
    private final int ciphertextLength;

    private EnvelopeHeader(
            PayloadType payloadType,
            String tenantId,
            String embeddingId,
            KekRef kek,
            DekId dekId,
            byte[] wrappedDek,
            int ciphertextOffset,
            int ciphertextLength) {
        this.payloadType = payloadType;
        this.tenantId = tenantId;
        this.embeddingId = embeddingId;
        this.kek = kek;
        this.dekId = dekId;
        this.wrappedDek = wrappedDek;
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
        if (version != VERSION_1) {
            throw new EnvelopeException(
                    Reason.UNSUPPORTED_VERSION,
                    "envelope format version " + version + " is not supported by this reader (it reads version "
                            + VERSION_1 + ")");
        }
        Reader in = new Reader(envelope, 4);
        int payloadCode = in.u8("payload type");
        PayloadType payloadType = PayloadType.ofCode(payloadCode);
        if (payloadType == null) {
            throw new EnvelopeException(Reason.UNSUPPORTED_PAYLOAD, "payload type " + payloadCode + " is unknown");
        }
        String tenantId =
                in.utf8(in.length(in.u8("tenant id length"), 1, MAX_TENANT_ID_BYTES, "tenant id"), "tenant id");
        if (!TenantIds.isValid(tenantId)) {
            throw new EnvelopeException(Reason.MALFORMED, "tenant id breaks the rule: " + TenantIds.describeRule());
        }
        String embeddingId = in.utf8(
                in.length(in.u16("embedding id length"), 1, MAX_EMBEDDING_ID_BYTES, "embedding id"), "embedding id");
        String kekText = in.utf8(
                in.length(in.u8("KEK reference length"), 1, MAX_KEK_REF_BYTES, "KEK reference"), "KEK reference");
        KekRef kek;
        try {
            kek = KekRef.parse(kekText);
        } catch (IllegalArgumentException e) {
            throw new EnvelopeException(Reason.MALFORMED, "KEK reference is not provider:keyName:version", e);
        }
        int dekIdLength = in.length(in.u8("DEK id length"), DekId.LENGTH, DekId.LENGTH, "DEK id");
        DekId dekId = DekId.of(envelope, in.take(dekIdLength, "DEK id"), dekIdLength);
        int wrappedLength = in.length(in.u16("wrapped DEK length"), 1, MAX_WRAPPED_DEK_BYTES, "wrapped DEK");
        int wrappedOffset = in.take(wrappedLength, "wrapped DEK");
        byte[] wrapped = Arrays.copyOfRange(envelope, wrappedOffset, wrappedOffset + wrappedLength);
        int ciphertextLength =
                in.length(in.u32("ciphertext length"), MIN_CIPHERTEXT_BYTES, MAX_CIPHERTEXT_BYTES, "ciphertext");
        int ciphertextOffset = in.take(ciphertextLength, "ciphertext");
        if (in.position() != envelope.length) {
            throw new EnvelopeException(
                    Reason.MALFORMED,
                    (envelope.length - in.position())
                            + " bytes follow the ciphertext; an envelope ends with its ciphertext");
        }
        return new EnvelopeHeader(
                payloadType, tenantId, embeddingId, kek, dekId, wrapped, ciphertextOffset, ciphertextLength);
    }

    /**
     * The length of the header (everything before the ciphertext) for these fields.
     *
     * @throws IllegalArgumentException if a field exceeds its envelope limit
     */
    static int headerLength(byte[] tenantId, byte[] embeddingId, Dek dek, int plaintextLength) {
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

    /**
     * Writes the header into {@code out} from offset 0; {@link #headerLength} must have accepted the fields.
     * These bytes are also the AEAD's associated data.
     */
    static void write(
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

    private static void requireLength(long length, int min, int max, String field) {
        if (length < min || length > max) {
            throw new IllegalArgumentException(field + " must be " + min + ".." + max + " bytes, got " + length);
        }
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

    /** Where the ciphertext starts; every byte before it is associated data. */
    public int ciphertextOffset() {
        return ciphertextOffset;
    }

    public int ciphertextLength() {
        return ciphertextLength;
    }

    @Override
    public String toString() {
        return "EnvelopeHeader[v" + VERSION_1 + ", payload=" + payloadType + ", tenant=" + tenantId
                + ", embeddingId=" + embeddingId + ", kek=" + kek + ", dek=" + dekId
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
