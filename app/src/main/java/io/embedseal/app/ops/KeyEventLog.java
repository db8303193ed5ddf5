package io.embedseal.app.ops;

import io.embedseal.control.KeyEventGate;
import io.embedseal.control.KeyEventTrust;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.SigningKeys;
import io.embedseal.keyring.tenant.TenantDirectory;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.schemas.KeyEvent;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The key-event topic as the pipeline would read it: each tenant's state after every record, passed through the same
 * {@link KeyEventGate} (signatures, sequence, the tenants' rules) with the same trust settings, plus the events that
 * applied per tenant (compaction may have removed older ones) and how many records were refused.
 */
public final class KeyEventLog {

    private final KeyEventGate gate;
    private final Map<String, List<KeyEvent>> history = new TreeMap<>();
    private final Map<String, Long> refusals = new TreeMap<>();

    private KeyEventLog(KeyEventGate gate) {
        this.gate = gate;
    }

    /** Reads with the trusted signers of the settings, opening the configured KMS only if one is named {@code kms:}. */
    static KeyEventLog read(ClusterOptions.Cluster cluster) {
        KeyringSettings ks = cluster.keyringSettings();
        boolean needsKms =
                !ks.eventVerificationDisabled() && ks.trustedSigners().stream().anyMatch(e -> e.startsWith("kms:"));
        if (!needsKms) {
            return read(cluster, Optional::empty);
        }
        try (KmsProvider provider = KmsProviders.create(ks)) {
            return read(cluster, provider::signingKeys);
        }
    }

    /**
     * @param signingKeys the configured KMS's signing keys, to read the trusted signers named {@code kms:<name>}
     * @throws IllegalArgumentException naming {@code kms.events.trusted-signers} if a trusted key cannot be read
     */
    static KeyEventLog read(ClusterOptions.Cluster cluster, Supplier<Optional<SigningKeys>> signingKeys) {
        KeyringSettings ks = cluster.keyringSettings();
        // An operator command reads the topic before its first event may create the operator's signing key.
        KeyEventLog log = new KeyEventLog(KeyEventTrust.gate(ks, new TenantDirectory(ks.naming()), signingKeys, true));
        TopicReader.read(
                cluster.clientProps(),
                cluster.topics().keyEvents(),
                -1,
                r -> {
                    String tenant = r.key() == null ? null : new String(r.key(), StandardCharsets.UTF_8);
                    KeyEventGate.Decision d = log.gate.admit(tenant, r.value());
                    switch (d.outcome()) {
                        case APPLIED ->
                            log.history
                                    .computeIfAbsent(tenant, t -> new ArrayList<>())
                                    .add(d.event());
                        case FORGOTTEN -> log.history.remove(tenant);
                        case REFUSED ->
                            log.refusals.merge(
                                    java.util.Objects.requireNonNull(d.refusal())
                                            .label(),
                                    1L,
                                    Long::sum);
                    }
                },
                null);
        return log;
    }

    /** The tenant's state, or null if it never registered. */
    public @Nullable TenantState state(String tenant) {
        return gate.directory().snapshot().get(tenant);
    }

    public Map<String, TenantState> states() {
        return new TreeMap<>(gate.directory().snapshot());
    }

    public List<KeyEvent> history(String tenant) {
        return history.getOrDefault(tenant, List.of());
    }

    /** Records that changed nothing, by refusal label. */
    public Map<String, Long> refusals() {
        return Map.copyOf(refusals);
    }

    public long invalidEvents() {
        return gate.refused();
    }

    public KeyEventGate gate() {
        return gate;
    }
}
