package io.embedseal.app.ops;

import io.embedseal.control.KeyEventSignatures;
import io.embedseal.control.KeyEventSigner;
import io.embedseal.control.KeyEvents;
import io.embedseal.control.audit.AuditKeys;
import io.embedseal.control.audit.AuditSigner;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KeyAdministration;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.PublicKek;
import io.embedseal.keyring.kms.SigningKeys;
import io.embedseal.keyring.kms.UnknownKeyException;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.schemas.KeyEvent;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.topology.PipelineHealth;
import io.embedseal.topology.audit.AuditTrail;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.jspecify.annotations.Nullable;

/**
 * What a key-management command works with: the tenants' KMS (every call audited) as key administration and,
 * to prove a key usable before onboarding, data-key use; a producer for key events,
 * and the audit trail where the operator's own actions are chained ({@code kind=OPERATOR_ACTION}), under a chain
 * of this run's own ({@code cli-<actor>-<uuid>}).
 */
final class OperatorContext implements AutoCloseable {

    final ClusterOptions.Cluster cluster;
    final String actor;
    /** Creates, rotates, disables, enables and destroys keys: only the operator holds this. */
    final KeyAdministration admin;
    /** Wraps and unwraps test DEKs, as the pipeline will, to prove a key usable. */
    final Kms keys;
    /** Key names this run acts on, by the tenant that owns them (a tenant may bring its own key name). */
    private final Map<String, String> tenantOfKey = new ConcurrentHashMap<>();

    private final KmsProvider provider;
    private @Nullable KeyEventLog log;
    private @Nullable String signWith;
    private final AuditTrail audit;
    private final KafkaProducer<String, byte[]> producer;

    OperatorContext(ClusterOptions.Cluster cluster, String actor) {
        this.cluster = cluster;
        this.actor = actor;
        KeyringSettings s = cluster.keyringSettings();
        Map<String, Object> clients = new HashMap<>(cluster.clientProps());
        String bootstrap = String.valueOf(clients.remove("bootstrap.servers"));
        KmsProvider provider = KmsProviders.create(s);
        this.provider = provider;
        AuditSigner auditSigner;
        try {
            auditSigner = AuditKeys.signer(s, provider, "operator");
        } catch (IllegalArgumentException e) {
            // A key command (a tenant revoking its key) must not wait for the audit setup: the run's chain is
            // written unsigned, which `audit verify` reports.
            System.err.println("warning: this run's audit entries are not signed: " + e.getMessage());
            auditSigner = null;
        }
        this.audit = AuditTrail.create(
                bootstrap, clients, cluster.topics().audit(), "cli-" + actor, new PipelineHealth(), auditSigner);
        this.admin = KmsProviders.administer(provider, s, audit, this::tenantOfKey, Clock.systemUTC());
        // Wraps under a tenant's key pair use the public key pinned in its verified key events (keys rewrap), never the
        // KMS; a public-key wrap of a store-held key is refused (io.embedseal.keyring.PinnedKeyKms).
        this.keys = new io.embedseal.keyring.PinnedKeyKms(
                KmsProviders.decorate(provider, s, null, audit, this::tenantOfKey, Clock.systemUTC()),
                this::pinnedPublicKek);
        Map<String, Object> p = new HashMap<>(cluster.clientProps());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 30_000);
        this.producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
    }

    /** The public KEK pinned for a key name by its tenant's verified key events, or null. */
    private io.embedseal.keyring.kms.@Nullable PublicKek pinnedPublicKek(String keyName) {
        String tenant = tenantOfKey(keyName);
        TenantState state = tenant == null ? null : keyEvents().state(tenant);
        return state == null || !keyName.equals(state.kekName()) ? null : state.publicKek();
    }

    /** Another KMS (a migration's target): its data-key use and key administration, audited in this run's chain. */
    record OtherKms(KmsProvider provider, Kms keys, KeyAdministration admin) implements AutoCloseable {
        @Override
        public void close() {
            provider.close();
        }
    }

    /**
     * Opens another KMS with its own settings, every call audited like this run's own.
     *
     * @throws IllegalArgumentException naming the setting, if the settings are incomplete or wrong
     */
    OtherKms other(KeyringSettings s) {
        KmsProvider p = KmsProviders.create(s);
        return new OtherKms(
                p,
                KmsProviders.decorate(p, s, null, audit, this::tenantOfKey, Clock.systemUTC()),
                KmsProviders.administer(p, s, audit, this::tenantOfKey, Clock.systemUTC()));
    }

    /** The key-event topic read with the readers' rules (read once per command). */
    KeyEventLog keyEvents() {
        KeyEventLog l = log;
        if (l == null) {
            l = KeyEventLog.read(cluster, provider::signingKeys);
            log = l;
        }
        return l;
    }

    SigningKeys signingKeys() {
        return provider.signingKeys()
                .orElseThrow(() -> new IllegalStateException("KMS provider '" + provider.provider()
                        + "' holds no signing keys, so this command cannot sign key events"));
    }

    private String signingKeyName() {
        return cluster.keyringSettings().signingKey();
    }

    /**
     * The signer for the next event: a tenant's own authority key ({@code --sign-with}), or the operator's signing key
     * ({@code kms.events.signing-key}), which is created in the KMS on first use and announced.
     */
    KeyEventSigner signer(@Nullable String signWith) {
        SigningKeys keys = signingKeys();
        if (signWith != null) {
            return new KeyEventSigner(keys, signWith);
        }
        String name = signingKeyName();
        try {
            return new KeyEventSigner(keys, name);
        } catch (UnknownKeyException e) {
            keys.createSigningKey(name);
            KeyEventSigner created = new KeyEventSigner(keys, name);
            System.err.println("created the operator's signing key " + provider.provider() + ":" + name + " (key id "
                    + created.keyId() + "); readers trust it through " + KeyringSettings.EVENTS_TRUSTED_SIGNERS.name());
            return created;
        }
    }

    /** The key name the pipeline uses for a tenant: the registered one, else the naming template's. */
    String keyNameFor(String tenant, TenantState state) {
        String name = state != null && state.kekName() != null
                ? state.kekName()
                : cluster.keyringSettings().naming().kekNameFor(tenant);
        return bind(tenant, name);
    }

    /** Records that {@code keyName} is {@code tenant}'s key, so the audit entries of its KMS calls name the tenant. */
    String bind(String tenant, String keyName) {
        tenantOfKey.put(keyName, tenant);
        return keyName;
    }

    private @Nullable String tenantOfKey(String keyName) {
        String tenant = tenantOfKey.get(keyName);
        return tenant != null ? tenant : cluster.keyringSettings().naming().tenantFor(keyName);
    }

    /** Publishes a key event signed by the {@link #signWith} key, or the operator's. */
    KeyEvent publish(String tenant, KeyEventType type, KekRef kek, String reason) {
        return publish(tenant, type, kek, reason, null);
    }

    /** The key (in the configured KMS) this command signs with; null for the operator's signing key. */
    OperatorContext signWith(@Nullable String keyName) {
        this.signWith = keyName;
        return this;
    }

    /**
     * Refuses, before anything is done in the KMS, a command whose event the readers would refuse: the tenant named
     * an authority of its own and this command does not sign with it.
     */
    void requireAuthority(String tenant, TenantState state) {
        if (state.authority() == null) {
            return;
        }
        String required = KeyEventSignatures.keyId(KeyEventSignatures.parse(state.authority()));
        KeyEventSigner signer = signer(signWith);
        if (!required.equals(signer.keyId())) {
            throw new OperatorCommand.OperationFailed(
                    "tenant " + tenant + " named its own authority key (key id " + required
                            + "): only a signature of that key changes its state, and " + signer + " is not it. "
                            + "The tenant signs with --sign-with <its key> in its own KMS. Nothing was changed.");
        }
    }

    /**
     * Publishes a key event with the tenant's next sequence, signed by the {@link #signWith} key or the operator's,
     * and waits until the broker has it; then records the action in the audit trail.
     *
     * @param authority REGISTERED only: the public key (base64 X.509) that must sign the tenant's later events
     */
    KeyEvent publish(String tenant, KeyEventType type, KekRef kek, String reason, @Nullable String authority) {
        return publish(tenant, type, kek, reason, authority, null);
    }

    /**
     * {@link #publish(String, KeyEventType, KekRef, String, String)} pinning a public KEK (REGISTERED, ROTATED or
     * MIGRATED of a tenant whose KEK is a key pair): sealers wrap with it from then on, without the KMS.
     */
    KeyEvent publish(
            String tenant,
            KeyEventType type,
            KekRef kek,
            String reason,
            @Nullable String authority,
            @Nullable PublicKek publicKek) {
        TenantState current = keyEvents().state(tenant);
        long sequence = Math.addExact(current == null ? 0 : current.sequence(), 1);
        KeyEvent e = KeyEvents.event(
                tenant,
                type,
                kek.provider(),
                kek.keyName(),
                kek.version(),
                actor,
                reason,
                sequence,
                authority,
                publicKek);
        if (current != null) {
            requireAuthority(tenant, current);
        }
        KeyEventSigner signer = signer(signWith);
        byte[] value = signer.sign(e);
        try {
            producer.send(new ProducerRecord<>(cluster.topics().keyEvents(), tenant, value))
                    .get(60, TimeUnit.SECONDS);
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while publishing " + type, ex);
        } catch (ExecutionException | TimeoutException ex) {
            throw new IllegalStateException(
                    "could not publish " + type + " for " + tenant + " to "
                            + cluster.topics().keyEvents() + ": "
                            + (ex.getCause() == null ? ex : ex.getCause()).getMessage(),
                    ex);
        }
        action(
                type.name(),
                tenant,
                kek.toString(),
                reason,
                "published #" + sequence + ", signed by " + signer.keyId()
                        + (publicKek == null ? "" : ", public KEK " + publicKek.fingerprint()));
        log = null; // the next read sees this event
        return e;
    }

    /** Appends an operator action to the audit trail. */
    void action(String action, String tenant, String kek, String reason, String outcome) {
        Map<String, Object> f = new LinkedHashMap<>();
        f.put("kind", "OPERATOR_ACTION");
        f.put("time", Instant.now().toString());
        f.put("action", action);
        f.put("tenant", tenant);
        f.put("actor", actor);
        f.put("kek", kek);
        if (reason != null) {
            f.put("reason", reason);
        }
        f.put("outcome", outcome);
        audit.append(f);
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(10));
        audit.close();
        admin.close();
    }
}
