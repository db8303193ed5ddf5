package io.embedseal.sinks;

import io.embedseal.config.ConfigValueException;
import io.embedseal.config.Setting;
import io.embedseal.keyring.KeyringSettings;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.ValidString;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.types.Password;

/**
 * The settings every embedseal sink shares: where the key events and the audit topic are, how the sink reaches
 * the tenants' KMS, and what happens to a revoked tenant's records. Each connector adds its store's settings
 * with {@link #withCommon(ConfigDef)} and uses the one resulting {@code ConfigDef} for connector and task.
 */
public class EmbedsealSinkConfig extends AbstractConfig {

    public static final String BOOTSTRAP_SERVERS = "embedseal.bootstrap.servers";
    public static final String CLIENT_PREFIX = "embedseal.client.";
    public static final String KEY_EVENTS_TOPIC = "embedseal.topics.key-events";
    public static final String AUDIT_TOPIC = "embedseal.topics.audit";
    public static final String REVOKED_ACTION = "embedseal.revoked.action";
    public static final String WAIT_BACKOFF_MS = "embedseal.wait.backoff-ms";
    public static final String STARTUP_TIMEOUT_MS = "embedseal.key-events.startup-timeout-ms";
    public static final String KEY_EVENTS_MAX_STALENESS_MS = "embedseal.key-events.max-staleness-ms";
    public static final String TENANT_FAULT_COOLDOWN_MS = "embedseal.tenant.fault-cooldown-ms";
    public static final String TASK_INDEX = "embedseal.task.index";
    public static final String ENVELOPE_PURPOSE = "embedseal.envelope.purpose";
    public static final String ENVELOPE_ACCEPT_V1 = "embedseal.envelope.accept-v1";
    public static final String ENVELOPE_VERIFY = "embedseal.envelope.verify";
    public static final String BARE_NULL = "embedseal.delete.bare-null";
    public static final String KMS_PROVIDER = "kms.provider";
    public static final String VAULT_TOKEN = "kms.vault.token";
    public static final String PKCS11_PIN = "kms.pkcs11.pin";

    /** What a sink does with a record of a REVOKED tenant (or one its KMS refuses). */
    public enum RevokedAction {
        /** Hand it to Connect's errant-record reporter (the connector's dead-letter topic); needs one configured. */
        REPORT,
        /** Hold the records: redelivery waits until the tenant is RESTORED. Blocks the task's other records too. */
        WAIT
    }

    /** The shared settings added to a store's own, and the keyring's and providers' from their model. */
    public static ConfigDef withCommon(ConfigDef def) {
        return withKeyring(common(def));
    }

    /**
     * Every keyring and provider setting of the configuration model, so Connect's validation lists them and the
     * reference documents them; each is parsed by its definition when the task builds its keyring (the ConfigDef only
     * carries it as text).
     */
    private static ConfigDef withKeyring(ConfigDef def) {
        for (Setting<?> s : KeyringSettings.modelWithProviders().settings()) {
            if (s.isFamily() || def.names().contains(s.name())) {
                continue;
            }
            String doc = s.doc()
                    + (s.defaultText().isEmpty() ? "" : " Default: " + s.defaultText() + ".")
                    + (s.allowed() == null ? "" : " Allowed: " + s.allowed() + ".");
            def.define(
                    s.name(),
                    ConfigDef.Type.STRING,
                    null,
                    ConfigDef.Importance.valueOf(s.importance().name()),
                    doc.strip());
        }
        return def;
    }

    private static ConfigDef common(ConfigDef def) {
        return def.define(
                        BOOTSTRAP_SERVERS,
                        ConfigDef.Type.LIST,
                        ConfigDef.NO_DEFAULT_VALUE,
                        ConfigDef.Importance.HIGH,
                        "The Kafka cluster holding the key-event and audit topics (usually the worker's own). "
                                + "Kafka client settings for these clients go under " + CLIENT_PREFIX + "*, e.g. "
                                + CLIENT_PREFIX + "security.protocol=SSL.")
                .define(
                        KEY_EVENTS_TOPIC,
                        ConfigDef.Type.STRING,
                        "keyring.events",
                        new ConfigDef.NonEmptyString(),
                        ConfigDef.Importance.MEDIUM,
                        "The key-event topic the sink follows (REVOKED, RESTORED, DESTROYED, ...).")
                .define(
                        AUDIT_TOPIC,
                        ConfigDef.Type.STRING,
                        "keyring.audit",
                        new ConfigDef.NonEmptyString(),
                        ConfigDef.Importance.MEDIUM,
                        "Where shred receipts are appended when a DESTROYED tenant's data has been deleted.")
                .define(
                        REVOKED_ACTION,
                        ConfigDef.Type.STRING,
                        "report",
                        ValidString.in("report", "wait"),
                        ConfigDef.Importance.MEDIUM,
                        "Records of a REVOKED tenant (or one whose KMS refuses the key): 'report' hands them, still "
                                + "sealed, to Connect's errant-record reporter (set errors.tolerance=all and "
                                + "errors.deadletterqueue.topic.name) so the tenant's other records keep flowing; "
                                + "'wait' holds the task until the tenant is RESTORED. Without a reporter, 'report' "
                                + "falls back to 'wait'.")
                .define(
                        WAIT_BACKOFF_MS,
                        ConfigDef.Type.LONG,
                        5_000L,
                        ConfigDef.Range.between(100L, 600_000L),
                        ConfigDef.Importance.LOW,
                        "How long Connect waits before redelivering records that wait (KMS unreachable, revoked tenant with 'wait').")
                .define(
                        STARTUP_TIMEOUT_MS,
                        ConfigDef.Type.LONG,
                        60_000L,
                        ConfigDef.Range.atLeast(1_000L),
                        ConfigDef.Importance.LOW,
                        "How long a task may take at start to read every tenant's key state; it writes nothing before.")
                .define(
                        KEY_EVENTS_MAX_STALENESS_MS,
                        ConfigDef.Type.LONG,
                        15_000L,
                        ConfigDef.Range.between(2_000L, 3_600_000L),
                        ConfigDef.Importance.MEDIUM,
                        "Fail closed when key events stop: if the task cannot confirm for this long that it has "
                                + "applied every event on the key-event topic (the topic unreadable, an authorisation "
                                + "error, the brokers gone), it writes and unseals nothing, and Connect redelivers the "
                                + "batch; it goes on by itself once the topic is readable again.")
                .define(
                        TENANT_FAULT_COOLDOWN_MS,
                        ConfigDef.Type.LONG,
                        30_000L,
                        ConfigDef.Range.between(0L, 3_600_000L),
                        ConfigDef.Importance.LOW,
                        "After one tenant's key fails (denied, unknown, a KMS error for that key alone), its "
                                + "records go to the errant-record reporter for this long without asking its KMS; "
                                + "then one record tries again. Other tenants are not affected.")
                .define(
                        KMS_PROVIDER,
                        ConfigDef.Type.STRING,
                        "local",
                        ValidString.in(KeyringSettings.PROVIDERS.toArray(String[]::new)),
                        ConfigDef.Importance.HIGH,
                        "The tenants' KMS: vault, pkcs11 or local (development only). Further kms.* and "
                                + "dek.* settings as in docs/key-management.md; the KMS must let this sink unwrap DEKs.")
                .define(
                        VAULT_TOKEN,
                        ConfigDef.Type.PASSWORD,
                        null,
                        ConfigDef.Importance.MEDIUM,
                        "The Vault token (instead of kms.vault.token-env or kms.vault.token-file). Use a config provider "
                                + "(e.g. ${file:/secrets/vault:token}) rather than a literal.")
                .define(
                        PKCS11_PIN,
                        ConfigDef.Type.PASSWORD,
                        null,
                        ConfigDef.Importance.MEDIUM,
                        "The PKCS#11 user PIN (instead of kms.pkcs11.pin-env or kms.pkcs11.pin-file).")
                .define(
                        ENVELOPE_PURPOSE,
                        ConfigDef.Type.STRING,
                        io.embedseal.serdes.envelope.Sealer.DEFAULT_PURPOSE,
                        (name, value) -> {
                            try {
                                io.embedseal.serdes.envelope.Sealer.requirePurpose(String.valueOf(value));
                            } catch (IllegalArgumentException e) {
                                throw new ConfigException(name, value, e.getMessage());
                            }
                        },
                        ConfigDef.Importance.MEDIUM,
                        "What the envelopes this sink stores must have been sealed for (envelope version 2): the "
                                + "pipeline's envelope.purpose. An envelope sealed for another purpose is refused "
                                + "(INVALID_ENVELOPE).")
                .define(
                        ENVELOPE_ACCEPT_V1,
                        ConfigDef.Type.BOOLEAN,
                        true,
                        ConfigDef.Importance.MEDIUM,
                        "Whether version-1 envelopes are stored. They carry no record version, so they count as "
                                + "older than any version-2 record (a v1 replay never replaces a v2 record); turn "
                                + "this off once no version-1 envelope is left in the sealed topic.")
                .define(
                        ENVELOPE_VERIFY,
                        ConfigDef.Type.BOOLEAN,
                        true,
                        ConfigDef.Importance.MEDIUM,
                        "Sealed mode: authenticate every envelope and delete marker under the tenant's key before "
                                + "it changes the store (one AES-GCM check per record, one KMS unwrap per DEK), so "
                                + "its record version can be trusted and a forged or rolled-back record is refused. "
                                + "Off, a sealed-mode store takes the versions in the headers on trust: a writer of "
                                + "the sealed topic can then delete records or replace them with ones that do not "
                                + "open. Index mode always unseals.")
                .define(
                        BARE_NULL,
                        ConfigDef.Type.STRING,
                        "refuse",
                        ValidString.in("refuse", "delete"),
                        ConfigDef.Importance.MEDIUM,
                        "A record with a null value on the sealed topic: 'refuse' (hand it to the errant-record "
                                + "reporter as BARE_NULL; the pipeline writes deletes as sealed delete markers) or "
                                + "'delete' (delete the record without any check, as before envelope version 2: "
                                + "anyone who can write the topic can then delete any record).")
                .define(
                        TASK_INDEX,
                        ConfigDef.Type.INT,
                        0,
                        ConfigDef.Range.atLeast(0),
                        ConfigDef.Importance.LOW,
                        "Set by the connector for each task; not for users.");
    }

    private final KeyringSettings keyringSettings;

    public EmbedsealSinkConfig(ConfigDef def, Map<?, ?> props) {
        super(def, props);
        if (getList(BOOTSTRAP_SERVERS).isEmpty()) {
            throw new InvalidSettingException(
                    BOOTSTRAP_SERVERS, "", "give the Kafka cluster holding " + getString(KEY_EVENTS_TOPIC));
        }
        // The worker, not this configuration, decides which KMS, files, clusters and stores a connector may use:
        // checked before anything reads a file or loads a module the configuration names.
        WorkerAllowlist.ofWorker().ifPresent(allowlist -> allowlist.check(this));
        this.keyringSettings = keyringSettings(System::getenv);
    }

    /**
     * The keyring settings among the connector's ({@code kms.*}, {@code dek.*}). A token or PIN given as a password
     * setting is passed through a private variable name, so it never sits in the settings map (or its toString).
     *
     * @throws ConfigException naming the setting, if the KMS settings are invalid
     */
    final KeyringSettings keyringSettings(Function<String, String> env) {
        Map<String, String> values = new LinkedHashMap<>();
        originalsStrings().forEach((k, v) -> {
            if ((k.startsWith("kms.") || k.startsWith("dek.")) && !k.equals(VAULT_TOKEN) && !k.equals(PKCS11_PIN)) {
                values.put(k, v);
            }
        });
        values.put(KMS_PROVIDER, getString(KMS_PROVIDER));
        Map<String, String> secrets = new HashMap<>();
        Password token = getPassword(VAULT_TOKEN);
        if (token != null && !token.value().isEmpty()) {
            secrets.put("EMBEDSEAL_CONNECTOR_VAULT_TOKEN", token.value());
            values.put("kms.vault.token-env", "EMBEDSEAL_CONNECTOR_VAULT_TOKEN");
            values.remove("kms.vault.token-file");
        }
        Password pin = getPassword(PKCS11_PIN);
        if (pin != null && !pin.value().isEmpty()) {
            secrets.put("EMBEDSEAL_CONNECTOR_PKCS11_PIN", pin.value());
            values.put("kms.pkcs11.pin-env", "EMBEDSEAL_CONNECTOR_PKCS11_PIN");
            values.remove("kms.pkcs11.pin-file");
        }
        try {
            return KeyringSettings.of(values, name -> secrets.containsKey(name) ? secrets.get(name) : env.apply(name));
        } catch (ConfigValueException e) {
            throw InvalidSettingException.of(e);
        } catch (IllegalArgumentException e) {
            ConfigException c = new ConfigException(e.getMessage());
            c.initCause(e);
            throw c;
        }
    }

    public KeyringSettings keyringSettings() {
        return keyringSettings;
    }

    /** Settings for the sink's own Kafka clients (key-event consumer, receipt producer). */
    public Map<String, Object> clientProps() {
        Map<String, Object> p = new HashMap<>(originalsWithPrefix(CLIENT_PREFIX));
        p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, String.join(",", getList(BOOTSTRAP_SERVERS)));
        return p;
    }

    public String keyEventsTopic() {
        return getString(KEY_EVENTS_TOPIC);
    }

    public String auditTopic() {
        return getString(AUDIT_TOPIC);
    }

    public RevokedAction revokedAction() {
        return RevokedAction.valueOf(getString(REVOKED_ACTION).toUpperCase(Locale.ROOT));
    }

    public long waitBackoffMs() {
        return getLong(WAIT_BACKOFF_MS);
    }

    public long keyEventsMaxStalenessMs() {
        return getLong(KEY_EVENTS_MAX_STALENESS_MS);
    }

    public long tenantFaultCooldownMs() {
        return getLong(TENANT_FAULT_COOLDOWN_MS);
    }

    public long startupTimeoutMs() {
        return getLong(STARTUP_TIMEOUT_MS);
    }

    public String envelopePurpose() {
        return getString(ENVELOPE_PURPOSE);
    }

    public boolean acceptVersion1() {
        return getBoolean(ENVELOPE_ACCEPT_V1);
    }

    public boolean verifyEnvelopes() {
        return getBoolean(ENVELOPE_VERIFY);
    }

    /** Whether a bare null value deletes ({@code embedseal.delete.bare-null=delete}). */
    public boolean bareNullDeletes() {
        return getString(BARE_NULL).equals("delete");
    }

    public int taskIndex() {
        return getInt(TASK_INDEX);
    }

    /** The connector's name as Connect gave it ({@code name}), or "embedseal-sink". */
    public String connectorName() {
        Object name = originals().get("name");
        return name == null ? "embedseal-sink" : name.toString();
    }
}
