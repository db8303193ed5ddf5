package io.embedseal.app.ops;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.embedseal.keyring.TenantIds;
import io.embedseal.topology.DeadLetters;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;

/** What the CLI reads from a dead letter: its reason and the tenant it claimed. Never its detail or sealed original. */
final class DeadLetterSummary {

    private static final ObjectMapper JSON = new ObjectMapper();

    private DeadLetterSummary() {}

    static String reason(ConsumerRecord<byte[], byte[]> r) {
        Header h = r.headers().lastHeader(DeadLetters.REASON_HEADER);
        return h == null ? "(no reason header)" : new String(h.value(), StandardCharsets.UTF_8);
    }

    /** The tenant id the refused record claimed: a valid id, or {@code (none)}, {@code (invalid id)}, {@code (unreadable value)}. */
    static String tenant(ConsumerRecord<byte[], byte[]> r) {
        try {
            JsonNode v = JSON.readTree(r.value());
            if (v == null || !v.hasNonNull("tenantId")) {
                return "(none)";
            }
            String t = v.get("tenantId").asText();
            return TenantIds.isValid(t) ? t : "(invalid id)";
        } catch (IOException | RuntimeException e) {
            return "(unreadable value)";
        }
    }
}
