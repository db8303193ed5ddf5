package io.embedseal.topology;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.jspecify.annotations.Nullable;

/**
 * Builds dead-letter records. The value is a small JSON object of metadata: reason, detail, the source
 * topic/partition/offset, schema id, size of the original value, and the tenant and embedding ids when they
 * could be read. It never carries the original value in the clear, so no plaintext vector reaches the
 * dead-letter topic; for an active tenant it may carry it sealed under that tenant's key ({@code sealedOriginal}).
 * The same facts are in {@code embedseal.dlq.*} headers for tools that only read headers.
 */
public final class DeadLetters {

    public static final String REASON_HEADER = "embedseal.dlq.reason";
    public static final String DETAIL_HEADER = "embedseal.dlq.detail";
    public static final String SOURCE_TOPIC_HEADER = "embedseal.dlq.source.topic";
    public static final String SOURCE_PARTITION_HEADER = "embedseal.dlq.source.partition";
    public static final String SOURCE_OFFSET_HEADER = "embedseal.dlq.source.offset";
    public static final String SCHEMA_ID_HEADER = "embedseal.dlq.schema.id";

    /** Longest id or detail copied into a dead letter; input ids can be anything an attacker sends. */
    static final int MAX_TEXT = 256;

    private static final ObjectMapper JSON = new ObjectMapper();

    private DeadLetters() {}

    /**
     * What is known about a refused record. Ids are null when the record could not be decoded; the sealed
     * original is null unless the tenant is active and sealing the original for replay is on.
     */
    record Facts(
            DeadLetterReason reason,
            @Nullable String detail,
            @Nullable RecordMetadata source,
            int schemaId,
            int valueBytes,
            @Nullable String tenantId,
            @Nullable String embeddingId,
            long timeMillis,
            byte @Nullable [] sealedOriginal) {}

    /** The embedding id a dead letter's sealed original is bound to: where the record came from. */
    /** The purpose dead letters' sealed originals are sealed for (never the sealed topic's). */
    public static final String ENVELOPE_PURPOSE = "embedseal.dead-letters";

    public static String originalBinding(String topic, int partition, long offset) {
        return "dlq/" + topic + "/" + partition + "/" + offset;
    }

    static Headers headers(Facts f) {
        RecordHeaders h = new RecordHeaders();
        h.add(REASON_HEADER, utf8(f.reason().name()));
        h.add(DETAIL_HEADER, utf8(clean(f.detail())));
        if (f.source() != null) {
            h.add(SOURCE_TOPIC_HEADER, utf8(f.source().topic()));
            h.add(SOURCE_PARTITION_HEADER, utf8(Integer.toString(f.source().partition())));
            h.add(SOURCE_OFFSET_HEADER, utf8(Long.toString(f.source().offset())));
        }
        if (f.schemaId() >= 0) {
            h.add(SCHEMA_ID_HEADER, utf8(Integer.toString(f.schemaId())));
        }
        return h;
    }

    static byte[] value(Facts f) {
        ObjectNode o = JSON.createObjectNode();
        o.put("reason", f.reason().name());
        o.put("detail", clean(f.detail()));
        if (f.tenantId() != null) {
            o.put("tenantId", clean(f.tenantId()));
        }
        if (f.embeddingId() != null) {
            o.put("embeddingId", clean(f.embeddingId()));
        }
        if (f.source() != null) {
            o.put("sourceTopic", f.source().topic());
            o.put("sourcePartition", f.source().partition());
            o.put("sourceOffset", f.source().offset());
        }
        if (f.schemaId() >= 0) {
            o.put("schemaId", f.schemaId());
        }
        o.put("valueBytes", f.valueBytes());
        o.put("time", Instant.ofEpochMilli(f.timeMillis()).toString());
        if (f.sealedOriginal() != null) {
            // sealed under the tenant's key: only the tenant's KMS can give it back, for a replay after a fix
            o.put("sealedOriginal", java.util.Base64.getEncoder().encodeToString(f.sealedOriginal()));
        }
        try {
            return JSON.writeValueAsBytes(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write a dead-letter value", e);
        }
    }

    /** Shortens and strips control characters, so ids from hostile input stay printable and small. */
    static String clean(@Nullable String text) {
        if (text == null) {
            return "";
        }
        String shown = text.length() > MAX_TEXT ? text.substring(0, MAX_TEXT) + "..." : text;
        // A scan, not a regular expression: dead letters come at the rate of whatever input is refused (a flood of
        // poison pills, a failing tenant's traffic), and the others' records wait while each is written.
        for (int i = 0; i < shown.length(); i++) {
            if (Character.isISOControl(shown.charAt(i))) {
                char[] out = shown.toCharArray();
                for (int j = i; j < out.length; j++) {
                    if (Character.isISOControl(out[j])) {
                        out[j] = '?';
                    }
                }
                return new String(out);
            }
        }
        return shown;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
