package io.embedseal.serdes.avro;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.testkit.ApicurioRegistry;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** The serde against a real Confluent-compatible registry (Apicurio Registry's ccompat API) and a real broker. */
@DisplayName("schema registry client and Avro serde against Apicurio Registry (real, Java 21+)")
class ApicurioRegistryTest {

    private static ApicurioRegistry apicurio;
    private static ConfluentSchemaRegistryClient client;

    @BeforeAll
    static void start() {
        String why = ApicurioRegistry.unavailableBecause().orElse(null);
        if (why != null) {
            if ("1".equals(System.getenv("EMBEDSEAL_REQUIRE_APICURIO"))) {
                Assertions.fail(why + "; EMBEDSEAL_REQUIRE_APICURIO=1 makes this a failure");
            }
            Assumptions.abort("needs a real schema registry: " + why);
        }
        apicurio = ApicurioRegistry.shared();
        client = new ConfluentSchemaRegistryClient(ConfluentSchemaRegistryClient.Settings.from(
                Map.of("schema.registry.url", apicurio.confluentUrl()), System::getenv));
    }

    private static String subject() {
        return "test-" + UUID.randomUUID().toString().substring(0, 8) + "-value";
    }

    private static EmbeddingEvent event(String id) {
        return EmbeddingEvent.newBuilder()
                .setTenantId("acme")
                .setEmbeddingId(id)
                .setModel("m")
                .setVector(List.of(0.5f, -0.25f, 1f))
                .setMetadata(Map.of("k", "v"))
                .setEventTime(Instant.ofEpochMilli(1))
                .build();
    }

    @Test
    void register_lookUpById_latest_andIdempotence() {
        String subject = subject();

        int id = client.register(subject, EmbeddingEventCodec.CANONICAL_SCHEMA);

        assertThat(new ConfluentSchemaRegistryClient(ConfluentSchemaRegistryClient.Settings.from(
                                Map.of("schema.registry.url", apicurio.confluentUrl()), System::getenv))
                        .schemaById(id))
                .isEqualTo(EmbeddingEventCodec.CANONICAL_SCHEMA);
        assertThat(client.register(subject, EmbeddingEventCodec.CANONICAL_SCHEMA))
                .isEqualTo(id);
        assertThat(client.lookup(subject, EmbeddingEventCodec.CANONICAL_SCHEMA)).isEqualTo(id);
        SchemaRegistry.RegisteredSchema latest = client.latest(subject);
        assertThat(latest.version()).isEqualTo(1);
        assertThat(latest.id()).isEqualTo(id);
    }

    /**
     * The poison pill of a shared registry: a record naming a PROTOBUF or JSON schema's id. Before, the codec called it
     * REGISTRY_UNAVAILABLE (the pipeline waited, then stopped, on every restart); now it is input: NOT_AVRO_SCHEMA,
     * remembered, so the next record naming the id does not ask the registry.
     */
    @Test
    void aRecordNamingAProtobufOrJsonSchema_isRefusedAsInput_andTheIdRemembered() throws Exception {
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        Map<String, String> others = Map.of(
                "PROTOBUF", "syntax = \"proto3\";\nmessage Junk { string name = 1; }\n",
                "JSON", "{\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\"}}}");
        for (Map.Entry<String, String> other : others.entrySet()) {
            String body = new com.fasterxml.jackson.databind.ObjectMapper()
                    .writeValueAsString(Map.of("schemaType", other.getKey(), "schema", other.getValue()));
            java.net.http.HttpResponse<String> r = http.send(
                    java.net.http.HttpRequest.newBuilder(java.net.URI.create(
                                    apicurio.confluentUrl() + "/subjects/" + subject() + "/versions"))
                            .header("Content-Type", "application/vnd.schemaregistry.v1+json")
                            .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body))
                            .build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            int id = new com.fasterxml.jackson.databind.ObjectMapper()
                    .readTree(r.body())
                    .path("id")
                    .asInt();

            int[] asked = {0};
            SchemaRegistry counting = new SchemaRegistry() {
                @Override
                public int register(String subject, org.apache.avro.Schema schema) {
                    return client.register(subject, schema);
                }

                @Override
                public org.apache.avro.Schema schemaById(int schemaId) {
                    asked[0]++;
                    return client.schemaById(schemaId);
                }

                @Override
                public int lookup(String subject, org.apache.avro.Schema schema) {
                    return client.lookup(subject, schema);
                }

                @Override
                public RegisteredSchema latest(String subject) {
                    return client.latest(subject);
                }

                @Override
                public boolean isCompatible(String subject, org.apache.avro.Schema schema) {
                    return client.isCompatible(subject, schema);
                }

                @Override
                public void setCompatibility(String subject, String level) {
                    client.setCompatibility(subject, level);
                }
            };
            EmbeddingEventCodec codec = new EmbeddingEventCodec(counting);
            byte[] poison = EmbeddingEventCodec.encodeWire(id, event("p-1"));
            for (int i = 0; i < 3; i++) {
                assertThatThrownBy(() -> codec.decode(poison))
                        .isInstanceOfSatisfying(
                                WireFormatException.class,
                                e -> assertThat(e.reason()).isEqualTo(WireFormatException.Reason.NOT_AVRO_SCHEMA))
                        .hasMessageContaining(other.getKey());
            }
            assertThat(asked[0])
                    .as("registry lookups of the %s id for 3 records", other.getKey())
                    .isEqualTo(1);
        }
    }

    @Test
    void unknownId_andUnknownSubject_areTyped() {
        assertThatThrownBy(() -> client.schemaById(987_654)).isInstanceOf(UnknownSchemaException.class);
        assertThatThrownBy(() -> client.latest(subject())).isInstanceOf(UnknownSubjectException.class);
    }

    @Test
    void producedWithOurSerializer_consumedWithOurDeserializer_throughARealBroker() {
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.shared();
        String topic = "registry-" + UUID.randomUUID().toString().substring(0, 8);
        broker.createTopic(topic, 1, Map.of());
        Map<String, Object> producer = new HashMap<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                broker.bootstrapServers(),
                "schema.registry.url",
                apicurio.confluentUrl()));
        try (KafkaProducer<String, EmbeddingEvent> p = new KafkaProducer<>(
                producer, new StringSerializer(), withConfig(new EmbeddingEventSerializer(), producer))) {
            for (int i = 0; i < 10; i++) {
                p.send(new ProducerRecord<>(topic, "k" + i, event("doc-" + i)));
            }
        }
        Map<String, Object> consumer = new HashMap<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                broker.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG,
                "g-" + topic,
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG,
                "earliest",
                "schema.registry.url",
                apicurio.confluentUrl()));
        List<EmbeddingEvent> read = new ArrayList<>();
        EmbeddingEventDeserializer deserializer = new EmbeddingEventDeserializer();
        deserializer.configure(consumer, false);
        try (KafkaConsumer<String, EmbeddingEvent> c =
                new KafkaConsumer<>(consumer, new StringDeserializer(), deserializer)) {
            c.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 30_000;
            while (read.size() < 10 && System.currentTimeMillis() < deadline) {
                c.poll(Duration.ofMillis(200)).forEach(r -> read.add(r.value()));
            }
        }
        assertThat(read).hasSize(10).first().isEqualTo(event("doc-0"));
        assertThat(client.latest(topic + "-value").schema()).isEqualTo(EmbeddingEventCodec.CANONICAL_SCHEMA);
    }

    @Test
    void addingAnOptionalField_isCompatible_andOldAndNewRecordsBothRead() throws IOException {
        String subject = subject();
        client.setCompatibility(subject, "BACKWARD");
        int v1 = client.register(subject, EmbeddingEventCodec.CANONICAL_SCHEMA);
        Schema v2Schema = withOptionalField(EmbeddingEventCodec.CANONICAL_SCHEMA, "source");

        assertThat(client.isCompatible(subject, v2Schema)).isTrue();
        int v2 = client.register(subject, v2Schema);
        assertThat(v2).isNotEqualTo(v1);
        assertThat(client.latest(subject).version()).isEqualTo(2);

        EmbeddingEventCodec codec = new EmbeddingEventCodec(client);
        byte[] old = EmbeddingEventCodec.encodeWire(v1, event("old"));
        GenericRecord newer = new GenericData.Record(v2Schema);
        EmbeddingEvent e = event("new");
        for (Schema.Field f : EmbeddingEventCodec.CANONICAL_SCHEMA.getFields()) {
            newer.put(f.name(), f.name().equals("eventTime") ? e.getEventTime().toEpochMilli() : e.get(f.name()));
        }
        newer.put("source", "crawler");
        EmbeddingEventCodec.Decoded fromNew = codec.decode(wire(v2, v2Schema, newer));
        assertThat(codec.decode(old).event()).isEqualTo(event("old"));
        assertThat(fromNew.event()).isEqualTo(e);
        assertThat(fromNew.canonicalWriter()).isFalse();
    }

    @Test
    void anIncompatibleChange_isRefusedWithAClearError() {
        String subject = subject();
        client.setCompatibility(subject, "BACKWARD");
        client.register(subject, EmbeddingEventCodec.CANONICAL_SCHEMA);
        Schema breaking = SchemaBuilder.record("EmbeddingEvent")
                .namespace("io.embedseal.schemas")
                .fields()
                .requiredString("tenantId")
                .requiredString("embeddingId")
                .requiredString("model")
                .name("vector")
                .type()
                .array()
                .items()
                .doubleType()
                .noDefault()
                .requiredString("region") // a new required field without a default: old records cannot be read
                .requiredLong("eventTime")
                .endRecord();

        assertThat(client.isCompatible(subject, breaking)).isFalse();
        assertThatThrownBy(() -> client.register(subject, breaking))
                .isInstanceOf(IncompatibleSchemaException.class)
                .hasMessageContaining(subject)
                .hasMessageContaining("409");
    }

    private static Schema withOptionalField(Schema base, String name) {
        List<Schema.Field> fields = new ArrayList<>();
        for (Schema.Field f : base.getFields()) {
            fields.add(new Schema.Field(f, f.schema()));
        }
        fields.add(new Schema.Field(
                name,
                Schema.createUnion(Schema.create(Schema.Type.NULL), Schema.create(Schema.Type.STRING)),
                "added in v2",
                Schema.Field.NULL_DEFAULT_VALUE));
        return Schema.createRecord(base.getName(), base.getDoc(), base.getNamespace(), false, fields);
    }

    private static byte[] wire(int id, Schema schema, GenericRecord r) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(new byte[] {0, (byte) (id >>> 24), (byte) (id >>> 16), (byte) (id >>> 8), (byte) id});
        BinaryEncoder enc = EncoderFactory.get().directBinaryEncoder(out, null);
        new GenericDatumWriter<GenericRecord>(schema).write(r, enc);
        enc.flush();
        return out.toByteArray();
    }

    private static <T extends org.apache.kafka.common.serialization.Serializer<?>> T withConfig(
            T s, Map<String, ?> config) {
        s.configure(config, false);
        return s;
    }
}
