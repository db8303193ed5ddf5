package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.KekKind;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.PublicKek;
import io.embedseal.kms.testsupport.SoftHsm;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.envelope.RecordVersion;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import io.embedseal.testkit.PythonClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Records the Java pipeline's PKCS#11 provider wrapped (AES-GCM inside a real SoftHSM2 token, through SunPKCS11), and
 * records wrapped with a key pair's public key whose private half the token holds, open in the Python client through
 * python-pkcs11 on the same token: one token, two PKCS#11 stacks, one wrap format.
 */
class PythonPkcs11OpenIntegrationTest {

    private static final int DIMS = 12;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void javaPkcs11WrapsOpenInPython_symmetricAndKeyPair() throws Exception {
        assumeTrue(
                PythonClient.unavailableBecause().isEmpty(),
                () -> PythonClient.unavailableBecause().orElse(""));
        SoftHsm.Token token = SoftHsm.sharedToken();
        String run = UUID.randomUUID().toString().substring(0, 8);
        String sym = "p11sym-" + run;
        String pair = "p11pair-" + run;
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.shared();
        String topic = "p11-" + run;
        broker.createTopic(topic, 1, Map.of());
        try (KmsProvider provider = KmsProviders.create(KeyringSettings.of(token.settings()));
                KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(
                        Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()),
                        new ByteArraySerializer(),
                        new ByteArraySerializer())) {
            provider.createKek("tenant-" + sym);
            KekRef pairKek = provider.createKek("tenant-" + pair, KekKind.PUBLIC_KEY);
            PublicKek publicKek = java.util.Objects.requireNonNull(provider.publicKek(pairKek.keyName(), 1));
            Sealer symSealer = new Sealer(Keyring.builder(provider).build());
            Sealer pairSealer = new Sealer(
                    KmsProviders.publicKeyOnlyKeyring(KeyringSettings.of(Map.of()), Map.of(pair, publicKek)));
            for (int i = 0; i < 6; i++) {
                String tenant = i % 2 == 0 ? sym : pair;
                byte[] env = (i % 2 == 0 ? symSealer : pairSealer)
                        .seal(
                                tenant,
                                "doc-" + i,
                                new RecordVersion(1, i),
                                PayloadType.EMBEDDING_EVENT_AVRO,
                                EmbeddingEventCodec.toCanonicalAvro(
                                        Sealed.event(tenant, "doc-" + i, PythonClient.vector(i, DIMS))));
                producer.send(
                        new ProducerRecord<>(topic, (tenant + "/doc-" + i).getBytes(StandardCharsets.UTF_8), env));
            }
            producer.flush();
        }
        Path settings = tmp.resolve("pkcs11.properties");
        StringBuilder props = new StringBuilder();
        token.settings().forEach((k, v) -> props.append(k).append('=').append(v).append('\n'));
        Files.writeString(settings, props);
        Map<String, JsonNode> opened = new HashMap<>();
        for (String line : PythonClient.run(
                "open",
                "--bootstrap",
                broker.bootstrapServers(),
                "--topic",
                topic,
                "--settings",
                settings.toString(),
                "--expect",
                "6")) {
            JsonNode n = JSON.readTree(line);
            opened.put(n.get("key").asText(), n);
        }
        for (int i = 0; i < 6; i++) {
            String key = (i % 2 == 0 ? sym : pair) + "/doc-" + i;
            JsonNode n = opened.get(key);
            assertThat(n).as(key).isNotNull();
            assertThat(n.has("vector")).as(key + ": " + n).isTrue();
            float[] want = PythonClient.vector(i, DIMS);
            List<Float> got = new java.util.ArrayList<>();
            n.get("vector").forEach(x -> got.add((float) x.asDouble()));
            for (int j = 0; j < DIMS; j++) {
                assertThat(Float.floatToIntBits(got.get(j))).isEqualTo(Float.floatToIntBits(want[j]));
            }
        }
    }
}
