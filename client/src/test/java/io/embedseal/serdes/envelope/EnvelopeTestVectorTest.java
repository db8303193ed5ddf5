package io.embedseal.serdes.envelope;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.crypto.tink.InsecureSecretKeyAccess;
import com.google.crypto.tink.KeysetHandle;
import com.google.crypto.tink.TinkJsonProtoKeysetFormat;
import com.google.crypto.tink.aead.AesGcmKey;
import com.google.crypto.tink.aead.AesGcmParameters;
import com.google.crypto.tink.util.SecretBytes;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.dek.DekFactory;
import io.embedseal.keyring.dek.DekId;
import io.embedseal.keyring.dek.Randomness;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.WrappedDek;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.HexFormat;
import java.util.List;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fixed test vectors of docs/envelope-format.md (versions 1 and 2, and a version-2 delete marker), checked byte for byte in both directions: our sealing code
 * produces exactly these bytes from the fixed inputs, and our reading code (with the local KMS holding the fixed
 * KEK) opens them. The vector was computed from the spec with plain JCE, not with this code.
 */
class EnvelopeTestVectorTest {

    private static final HexFormat HEX = HexFormat.of();
    static final byte[] KEK = seq(0x00, 32);
    static final int KEK_TINK_KEY_ID = 0x0A0B0C0D;
    static final byte[] DEK = seq(0x20, 32);
    static final byte[] DEK_ID = seq(0x40, 16);
    static final byte[] WRAP_NONCE = seq(0x50, 12);
    static final byte[] RECORD_NONCE = seq(0x60, 12);
    static final byte[] WRAP_AAD =
            HEX.parseHex("656d6265647365616c2e64656b2e7631000461636d65404142434445464748494a4b4c4d4e4f");
    static final byte[] WRAPPED_DEK =
            HEX.parseHex("010a0b0c0d505152535455565758595a5bb2061457c0759fc1749f174ee1ccadfad31ecfd8"
                    + "1644ac151cb0dae0cc7dab4ba6f5e7bd93f6719b2167ef582b094e1d");
    static final byte[] PLAINTEXT = HEX.parseHex(
            "0861636d650e646f632d31233014746573742d6d6f64656c080000803e0000c0bf0000404000" + "00003e000080a0abfef962");
    static final byte[] ENVELOPE_V2 = HEX.parseHex(
            "45534c02010461636d650007646f632d31233011656d62656464696e67732e7365616c65640000018bcfe5680000000000000000"
                    + "0710404142434445464748494a4b4c4d4e4f0000004d136c6f63616c3a74656e616e742d61636d653a310041010a0b0c0d50"
                    + "5152535455565758595a5bb2061457c0759fc1749f174ee1ccadfad31ecfd81644ac151cb0dae0cc7dab4ba6f5e7bd93f6719b"
                    + "2167ef582b094e1d606162636465666768696a6beaf5cec696de1f3a9a69569f255e071c0173b66f2e693da503a7b9e8b1d1b3"
                    + "fddfab7cc364c3d0fb627c65d892f18cfe2b12fdad806ea7a883dd8716bc039307b7");
    static final RecordVersion VERSION = new RecordVersion(1_700_000_000_000L, 7);
    static final byte[] DELETE_NONCE = seq(0x70, 12);
    static final byte[] DELETE_MARKER_V2 = HEX.parseHex(
            "45534c02030461636d650007646f632d31233011656d62656464696e67732e7365616c65640000018bcfe5680100000000000000"
                    + "0810404142434445464748494a4b4c4d4e4f0000001c136c6f63616c3a74656e616e742d61636d653a310041010a0b0c0d50"
                    + "5152535455565758595a5bb2061457c0759fc1749f174ee1ccadfad31ecfd81644ac151cb0dae0cc7dab4ba6f5e7bd93f6719b"
                    + "2167ef582b094e1d707172737475767778797a7b8934914451e10263932154972aacf570");
    static final byte[] ENVELOPE =
            HEX.parseHex("45534c01010461636d650007646f632d312330136c6f63616c3a74656e616e742d61636d65"
                    + "3a3110404142434445464748494a4b4c4d4e4f0041010a0b0c0d505152535455565758595a5bb2061457c0759fc1749f174ee1cca"
                    + "dfad31ecfd81644ac151cb0dae0cc7dab4ba6f5e7bd93f6719b2167ef582b094e1d0000004d606162636465666768696a6beaf5ce"
                    + "c696de1f3a9a69569f255e071c0173b66f2e693da503a7b9e8b1d1b3fddfab7cc364c3d0fb627c65d892f18cfe2bfca9efcaeda0d"
                    + "a3a0d7592993108f7ce");
    static final EmbeddingEvent EVENT = EmbeddingEvent.newBuilder()
            .setTenantId("acme")
            .setEmbeddingId("doc-1#0")
            .setModel("test-model")
            .setVector(List.of(0.25f, -1.5f, 3.0f, 0.125f))
            .setMetadata(null)
            .setEventTime(Instant.ofEpochMilli(1_700_000_000_000L))
            .build();

    @TempDir
    Path dir;

    private static byte[] seq(int from, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (from + i);
        }
        return b;
    }

    @Test
    void payloadIsTheCanonicalAvroEncodingOfTheEvent() {
        assertThat(EmbeddingEventCodec.toCanonicalAvro(EVENT)).isEqualTo(PLAINTEXT);
        assertThat(EmbeddingEventCodec.fromCanonicalAvro(PLAINTEXT)).isEqualTo(EVENT);
    }

    @Test
    void wrappedDekIsTinkAesGcmWithPrefixOverTheDekBindingAad() throws Exception {
        assertThat(DekFactory.associatedData("acme", DekId.of(DEK_ID, 0, 16))).isEqualTo(WRAP_AAD);
        Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
        c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(KEK, "AES"), new GCMParameterSpec(128, WRAP_NONCE));
        c.updateAAD(WRAP_AAD);
        byte[] sealed = c.doFinal(DEK);
        assertThat(Arrays.copyOfRange(WRAPPED_DEK, 0, 5)).isEqualTo(new byte[] {1, 0x0A, 0x0B, 0x0C, 0x0D});
        assertThat(Arrays.copyOfRange(WRAPPED_DEK, 5, 17)).isEqualTo(WRAP_NONCE);
        assertThat(Arrays.copyOfRange(WRAPPED_DEK, 17, WRAPPED_DEK.length)).isEqualTo(sealed);
    }

    /** A keyring whose DEK, DEK id and nonces are the vector's, on a KMS that wraps only the vector's DEK. */
    private static Sealer fixedSealer(byte[]... nonces) {
        Deque<byte[]> draws = new ArrayDeque<>(List.of(DEK, DEK_ID));
        draws.addAll(List.of(nonces));
        Randomness fixed = bytes -> {
            byte[] next = draws.removeFirst();
            assertThat(bytes).hasSameSizeAs(next);
            System.arraycopy(next, 0, bytes, 0, next.length);
        };
        // A KMS that answers with the vector's wrapped DEK, and only for the vector's DEK and binding.
        Kms kms = (Kms) Proxy.newProxyInstance(
                Kms.class.getClassLoader(), new Class<?>[] {Kms.class}, (proxy, m, args) -> {
                    switch (m.getName()) {
                        case "provider":
                            return "local";
                        case "wrapDek":
                            assertThat(args[0]).isEqualTo("tenant-acme");
                            assertThat((byte[]) args[1]).isEqualTo(DEK);
                            assertThat((byte[]) args[2]).isEqualTo(WRAP_AAD);
                            return new WrappedDek(new KekRef("local", "tenant-acme", 1), WRAPPED_DEK);
                        default:
                            throw new AssertionError("unexpected KMS call " + m.getName());
                    }
                });
        return new Sealer(Keyring.builder(kms).randomness(fixed).build());
    }

    @Test
    void sealingTheFixedInputs_producesExactlyTheVersion2Vector_andItsDeleteMarker() {
        Sealer sealer = fixedSealer(RECORD_NONCE, DELETE_NONCE);

        byte[] envelope = sealer.seal(
                "acme",
                "doc-1#0",
                VERSION,
                PayloadType.EMBEDDING_EVENT_AVRO,
                EmbeddingEventCodec.toCanonicalAvro(EVENT));
        byte[] marker = sealer.sealDeleteMarker("acme", "doc-1#0", new RecordVersion(1_700_000_000_001L, 8));

        assertThat(HEX.formatHex(envelope)).isEqualTo(HEX.formatHex(ENVELOPE_V2));
        assertThat(HEX.formatHex(marker)).isEqualTo(HEX.formatHex(DELETE_MARKER_V2));
    }

    @Test
    void sealingTheFixedInputsInVersion1_stillProducesExactlyTheVersion1Vector() {
        Sealer sealer = fixedSealer(RECORD_NONCE);

        byte[] envelope = sealer.sealVersion1(
                "acme", "doc-1#0", PayloadType.EMBEDDING_EVENT_AVRO, EmbeddingEventCodec.toCanonicalAvro(EVENT));

        assertThat(HEX.formatHex(envelope)).isEqualTo(HEX.formatHex(ENVELOPE));
    }

    @Test
    void theVersion2RecordCiphertextIsAesGcmUnderTheDek_authenticatingTheHeaderUpToTheCiphertextLength()
            throws Exception {
        int aad = 74;
        int ciphertextAt = 161;
        Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
        c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(DEK, "AES"), new GCMParameterSpec(128, RECORD_NONCE));
        c.updateAAD(Arrays.copyOf(ENVELOPE_V2, aad));
        assertThat(Arrays.copyOfRange(ENVELOPE_V2, ciphertextAt, ciphertextAt + 12))
                .isEqualTo(RECORD_NONCE);
        assertThat(c.doFinal(Arrays.copyOfRange(ENVELOPE_V2, ciphertextAt + 12, ENVELOPE_V2.length)))
                .isEqualTo(PLAINTEXT);
        // The key slot between the two is the KEK reference and the wrapped DEK, unauthenticated by the payload.
        assertThat(Arrays.copyOfRange(ENVELOPE_V2, aad + 1, aad + 20))
                .asString(StandardCharsets.US_ASCII)
                .isEqualTo("local:tenant-acme:1");
        assertThat(Arrays.copyOfRange(ENVELOPE_V2, aad + 22, ciphertextAt)).isEqualTo(WRAPPED_DEK);
    }

    /** A Tink AES-256-GCM keyset (TINK prefix, the given key id) in cleartext JSON, as the local KMS stores a KEK. */
    static void writeTinkAesKeyset(Path file, byte[] kekBytes, int keyId) throws Exception {
        AesGcmKey kek = AesGcmKey.builder()
                .setParameters(AesGcmParameters.builder()
                        .setKeySizeBytes(32)
                        .setIvSizeBytes(12)
                        .setTagSizeBytes(16)
                        .setVariant(AesGcmParameters.Variant.TINK)
                        .build())
                .setKeyBytes(SecretBytes.copyFrom(kekBytes, InsecureSecretKeyAccess.get()))
                .setIdRequirement(keyId)
                .build();
        Files.writeString(
                file,
                TinkJsonProtoKeysetFormat.serializeKeyset(
                        KeysetHandle.newBuilder()
                                .addEntry(KeysetHandle.importKey(kek).makePrimary())
                                .build(),
                        InsecureSecretKeyAccess.get()));
    }

    @Test
    void theLocalKmsHoldingTheFixedKek_opensTheVector() throws Exception {
        com.google.crypto.tink.aead.AeadConfig.register();
        writeTinkAesKeyset(dir.resolve("tenant-acme.keyset.json"), KEK, KEK_TINK_KEY_ID);
        LocalKms local = new LocalKms(dir);

        assertThat(local.unwrapDek(new KekRef("local", "tenant-acme", 1), WRAPPED_DEK, WRAP_AAD))
                .isEqualTo(DEK);
        Sealer reader = new Sealer(Keyring.of(local));
        Unsealed opened = reader.unseal(ENVELOPE, "acme", "doc-1#0");
        assertThat(opened.plaintext()).isEqualTo(PLAINTEXT);
        assertThat(opened.header().kek()).hasToString("local:tenant-acme:1");
        assertThat(opened.header().dekId().toBytes()).isEqualTo(DEK_ID);
        assertThat(opened.header().ciphertextOffset()).isEqualTo(127);
        assertThat(opened.header().recordVersion()).isEqualTo(RecordVersion.NONE);
        assertThat(EmbeddingEventCodec.fromCanonicalAvro(opened.plaintext())).isEqualTo(EVENT);

        Unsealed v2 = reader.unseal(ENVELOPE_V2, "acme", "doc-1#0");
        assertThat(v2.plaintext()).isEqualTo(PLAINTEXT);
        assertThat(v2.header().formatVersion()).isEqualTo(2);
        assertThat(v2.header().purpose()).isEqualTo("embeddings.sealed");
        assertThat(v2.header().recordVersion()).isEqualTo(VERSION);
        assertThat(v2.header().associatedDataLength()).isEqualTo(74);
        assertThat(v2.header().ciphertextOffset()).isEqualTo(161);

        Unsealed marker = reader.unseal(DELETE_MARKER_V2, "acme", "doc-1#0");
        assertThat(marker.header().payloadType()).isEqualTo(PayloadType.DELETE_MARKER);
        assertThat(marker.plaintext()).isEmpty();
        assertThat(marker.header().recordVersion()).isEqualTo(new RecordVersion(1_700_000_000_001L, 8));
    }

    @Test
    void theRecordCiphertextIsAesGcmUnderTheDekWithTheHeaderAsAssociatedData() throws Exception {
        Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
        c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(DEK, "AES"), new GCMParameterSpec(128, RECORD_NONCE));
        c.updateAAD(Arrays.copyOf(ENVELOPE, 127));
        assertThat(Arrays.copyOfRange(ENVELOPE, 127, 139)).isEqualTo(RECORD_NONCE);
        assertThat(c.doFinal(Arrays.copyOfRange(ENVELOPE, 139, ENVELOPE.length)))
                .isEqualTo(PLAINTEXT);
        assertThat(new String(ENVELOPE, 0, 3, StandardCharsets.US_ASCII)).isEqualTo("ESL");
    }
}
