package io.embedseal.sinks;

import java.time.Instant;
import java.util.Map;

/**
 * What a sink deleted for a DESTROYED tenant.
 *
 * @param tenantId    the tenant
 * @param deleted     counts by kind ({@code documents}, {@code rows}, {@code files}, {@code bytes} ...)
 * @param kept        counts of what was kept on purpose (sealed rows when configured to keep them)
 * @param shreddedAt  when the deletion finished
 * @param receipted   whether the receipt reached the audit topic
 */
public record ShredRecord(
        String tenantId, Map<String, Long> deleted, Map<String, Long> kept, Instant shreddedAt, boolean receipted) {

    public ShredRecord {
        deleted = Map.copyOf(deleted);
        kept = Map.copyOf(kept);
    }

    public ShredRecord withReceipt() {
        return new ShredRecord(tenantId, deleted, kept, shreddedAt, true);
    }
}
