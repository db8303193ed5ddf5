package io.embedseal.serdes.envelope;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.crypto.tink.HybridDecrypt;
import com.google.crypto.tink.InsecureSecretKeyAccess;
import com.google.crypto.tink.KeysetHandle;
import com.google.crypto.tink.RegistryConfiguration;
import com.google.crypto.tink.hybrid.HpkeParameters;
import com.google.crypto.tink.hybrid.HpkePrivateKey;
import com.google.crypto.tink.hybrid.HpkePublicKey;
import com.google.crypto.tink.util.Bytes;
import com.google.crypto.tink.util.SecretBytes;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.dek.DekFactory;
import io.embedseal.keyring.dek.DekId;
import io.embedseal.keyring.dek.Randomness;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.RsaKeyWrap;
import io.embedseal.keyring.kms.WrappedDek;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.avro.EmbeddingEventSerializer;
import io.embedseal.serdes.avro.InMemorySchemaRegistry;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.crypto.Cipher;
import javax.crypto.spec.OAEPParameterSpec;
import javax.crypto.spec.PSource;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shared test vectors, {@code testvectors/envelope-vectors.json}, byte for byte. The Python client's suite checks
 * the same file ({@code clients/python/tests/test_vectors.py}): what one language writes, the other reads, and both
 * write the same bytes from the same inputs. The envelope vectors are docs/envelope-format.md's; the public-key wraps
 * were made with Python's {@code cryptography} primitives, independently of either client.
 */
class SharedTestVectorsTest {

    private static final HexFormat HEX = HexFormat.of();
    private static JsonNode vectors;

    @TempDir
    Path dir;

    @BeforeAll
    static void read() throws Exception {
        Path file = Path.of("..", "testvectors", "envelope-vectors.json");
        vectors = new ObjectMapper().readTree(Files.readString(file));
        com.google.crypto.tink.aead.AeadConfig.register();
        com.google.crypto.tink.hybrid.HybridConfig.register();
    }

    private static byte[] hex(JsonNode v, String field) {
        return HEX.parseHex(v.get(field).asText());
    }

    private static List<JsonNode> all(String section) {
        List<JsonNode> out = new ArrayList<>();
        vectors.get(section).forEach(out::add);
        assertThat(out).as(section).isNotEmpty();
        return out;
    }

    /** A sealer whose DEK, DEK id and record nonce are the vector's, on a KMS that answers with its wrapped DEK. */
    private static Sealer fixedSealer(JsonNode v) {
        Deque<byte[]> draws = new ArrayDeque<>(List.of(hex(v, "dek"), hex(v, "dek_id"), hex(v, "record_nonce")));
        Randomness fixed = bytes -> {
            byte[] next = draws.removeFirst();
            assertThat(bytes).hasSameSizeAs(next);
            System.arraycopy(next, 0, bytes, 0, next.length);
        };
        KekRef kek = KekRef.parse(v.get("kek_ref").asText());
        Kms kms = (Kms) Proxy.newProxyInstance(
                Kms.class.getClassLoader(), new Class<?>[] {Kms.class}, (proxy, m, args) -> switch (m.getName()) {
                    case "provider" -> kek.provider();
                    case "wrapDek" -> new WrappedDek(kek, hex(v, "wrapped_dek"));
                    default -> throw new AssertionError("unexpected KMS call " + m.getName());
                });
        return new Sealer(
                Keyring.builder(kms).randomness(fixed).build(), v.get("purpose").asText(), true);
    }

    @Test
    void ourSealerWritesEveryVersion2Vector_byteForByte() {
        for (JsonNode v : all("envelopes")) {
            if (v.get("format_version").asInt() != 2) {
                continue;
            }
            byte[] out = fixedSealer(v)
                    .seal(
                            v.get("tenant").asText(),
                            v.get("embedding_id").asText(),
                            new RecordVersion(
                                    v.get("event_time_ms").asLong(),
                                    v.get("sequence").asLong()),
                            PayloadType.ofCode(v.get("payload_type").asInt()),
                            hex(v, "payload"));
            assertThat(HEX.formatHex(out))
                    .as(v.get("name").asText())
                    .isEqualTo(v.get("envelope").asText());
        }
    }

    @Test
    void everyVectorOpensUnderTheLocalKmsHoldingItsKek() throws Exception {
        JsonNode first = all("envelopes").get(0);
        EnvelopeTestVectorTest.writeTinkAesKeyset(
                dir.resolve("tenant-acme.keyset.json"),
                hex(first, "kek"),
                Integer.parseUnsignedInt(first.get("kek_tink_key_id").asText(), 16));
        Sealer reader = new Sealer(Keyring.of(new LocalKms(dir)));
        for (JsonNode v : all("envelopes")) {
            Unsealed opened = reader.unseal(
                    hex(v, "envelope"),
                    v.get("tenant").asText(),
                    v.get("embedding_id").asText());
            assertThat(HEX.formatHex(opened.plaintext()))
                    .as(v.get("name").asText())
                    .isEqualTo(v.get("payload").asText());
            assertThat(opened.header().formatVersion())
                    .isEqualTo(v.get("format_version").asInt());
        }
    }

    private static EmbeddingEvent event(JsonNode v) {
        List<Float> vector = new ArrayList<>();
        v.get("vector").forEach(x -> vector.add((float) x.asDouble()));
        Map<String, String> metadata = null;
        if (!v.get("metadata").isNull()) {
            Map<String, String> m = new LinkedHashMap<>();
            v.get("metadata")
                    .fields()
                    .forEachRemaining(e -> m.put(e.getKey(), e.getValue().asText()));
            metadata = m;
        }
        return EmbeddingEvent.newBuilder()
                .setTenantId(v.get("tenant").asText())
                .setEmbeddingId(v.get("embedding_id").asText())
                .setModel(v.get("model").asText())
                .setVector(vector)
                .setMetadata(metadata)
                .setEventTime(Instant.ofEpochMilli(v.get("event_time_ms").asLong()))
                .build();
    }

    @Test
    void eventsEncodeToTheVectorsCanonicalAvro_andConfluentWireFormat() {
        for (JsonNode v : all("events")) {
            EmbeddingEvent e = event(v);
            assertThat(HEX.formatHex(EmbeddingEventCodec.toCanonicalAvro(e)))
                    .as(v.get("name").asText())
                    .isEqualTo(v.get("canonical_avro").asText());
            assertThat(EmbeddingEventCodec.fromCanonicalAvro(hex(v, "canonical_avro")))
                    .isEqualTo(e);
            try (EmbeddingEventSerializer serializer = new EmbeddingEventSerializer(new InMemorySchemaRegistry())) {
                serializer.configure(Map.of("schema.registry.url", "unused://"), false);
                assertThat(HEX.formatHex(serializer.serialize("embeddings.raw", e)))
                        .as(v.get("name").asText())
                        .isEqualTo(v.get("confluent_wire").asText());
            }
        }
    }

    @Test
    void publicKeyWrapsOfTheVectorsOpen() throws Exception {
        for (JsonNode v : all("public_key_wraps")) {
            byte[] binding = hex(v, "binding");
            assertThat(DekFactory.associatedData(v.get("tenant").asText(), DekId.of(hex(v, "dek_id"), 0, 16)))
                    .isEqualTo(binding);
            byte[] wrapped = hex(v, "wrapped");
            byte[] pkcs8 = hex(v, "private_key_pkcs8");
            byte[] dek;
            if (v.get("algorithm").asText().equals("RSA_OAEP_SHA256")) {
                PrivateKey key = KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
                dek = RsaKeyWrap.unwrap(wrapped, binding, c1 -> {
                    try {
                        Cipher rsa = Cipher.getInstance("RSA/ECB/OAEPPadding");
                        rsa.init(
                                Cipher.DECRYPT_MODE,
                                key,
                                new OAEPParameterSpec(
                                        "SHA-256", "MGF1", MGF1ParameterSpec.SHA256, PSource.PSpecified.DEFAULT));
                        return rsa.doFinal(c1);
                    } catch (java.security.GeneralSecurityException e) {
                        throw new AssertionError(e);
                    }
                });
            } else {
                byte[] spki = hex(v, "spki");
                HpkeParameters params = HpkeParameters.builder()
                        .setKemId(HpkeParameters.KemId.DHKEM_X25519_HKDF_SHA256)
                        .setKdfId(HpkeParameters.KdfId.HKDF_SHA256)
                        .setAeadId(HpkeParameters.AeadId.AES_256_GCM)
                        .setVariant(HpkeParameters.Variant.NO_PREFIX)
                        .build();
                HpkePublicKey pub = HpkePublicKey.create(
                        params, Bytes.copyFrom(Arrays.copyOfRange(spki, spki.length - 32, spki.length)), null);
                HpkePrivateKey priv = HpkePrivateKey.create(
                        pub,
                        SecretBytes.copyFrom(
                                Arrays.copyOfRange(pkcs8, pkcs8.length - 32, pkcs8.length),
                                InsecureSecretKeyAccess.get()));
                HybridDecrypt hpke = KeysetHandle.newBuilder()
                        .addEntry(KeysetHandle.importKey(priv).withRandomId().makePrimary())
                        .build()
                        .getPrimitive(RegistryConfiguration.get(), HybridDecrypt.class);
                assertThat(Arrays.copyOf(wrapped, 5)).isEqualTo(new byte[] {'E', 'S', 'P', 'K', 2});
                dek = hpke.decrypt(Arrays.copyOfRange(wrapped, 5, wrapped.length), binding);
            }
            assertThat(HEX.formatHex(dek))
                    .as(v.get("name").asText())
                    .isEqualTo(v.get("dek").asText());
        }
    }

    @Test
    void everyMalformedEnvelopeIsRefusedWithTheVectorsReason() {
        for (JsonNode v : all("parse_refusals")) {
            assertThatThrownBy(() -> EnvelopeHeader.parse(hex(v, "envelope")))
                    .as(v.get("name").asText())
                    .isInstanceOfSatisfying(
                            EnvelopeException.class,
                            e -> assertThat(e.reason().name())
                                    .isEqualTo(v.get("reason").asText()));
        }
    }
}
