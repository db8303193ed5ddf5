package io.embedseal.app.ops;

import io.embedseal.control.KeyEvents;
import io.embedseal.keyring.tenant.TenantDirectory;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.schemas.KeyEvent;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * The key-event topic as the pipeline would read it: each tenant's state after every event, applied with the
 * same rules (DESTROYED is terminal), plus the events still on the topic per tenant (compaction may have removed
 * older ones). Undecodable events are counted, not applied.
 */
public final class KeyEventLog {

    private final TenantDirectory directory;
    private final Map<String, List<KeyEvent>> history = new TreeMap<>();
    private long invalid;

    private KeyEventLog(TenantDirectory directory) {
        this.directory = directory;
    }

    static KeyEventLog read(ClusterOptions.Cluster cluster) {
        KeyEventLog log =
                new KeyEventLog(new TenantDirectory(cluster.keyringSettings().naming()));
        TopicReader.read(
                cluster.clientProps(),
                cluster.topics().keyEvents(),
                -1,
                r -> {
                    String tenant = r.key() == null ? null : new String(r.key(), StandardCharsets.UTF_8);
                    if (tenant == null || r.value() == null) {
                        if (tenant != null) {
                            log.directory.forget(tenant);
                            log.history.remove(tenant);
                        }
                        return;
                    }
                    try {
                        KeyEvent e = KeyEvents.decode(tenant, r.value());
                        log.directory.apply(KeyEvents.toState(e));
                        log.history
                                .computeIfAbsent(tenant, t -> new ArrayList<>())
                                .add(e);
                    } catch (KeyEvents.InvalidKeyEventException e) {
                        log.invalid++;
                    }
                },
                null);
        return log;
    }

    /** The tenant's state, or null if it never registered. */
    public @Nullable TenantState state(String tenant) {
        return directory.snapshot().get(tenant);
    }

    public Map<String, TenantState> states() {
        return new TreeMap<>(directory.snapshot());
    }

    public List<KeyEvent> history(String tenant) {
        return history.getOrDefault(tenant, List.of());
    }

    public long invalidEvents() {
        return invalid;
    }
}
