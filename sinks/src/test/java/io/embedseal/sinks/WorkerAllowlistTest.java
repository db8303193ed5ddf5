package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.sinks.lucene.LuceneSinkConfig;
import io.embedseal.sinks.lucene.LuceneSinkConnector;
import io.embedseal.sinks.postgres.PostgresSinkConfig;
import io.embedseal.sinks.postgres.PostgresSinkConnector;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.kafka.common.config.Config;
import org.apache.kafka.common.config.ConfigValue;
import org.apache.kafka.connect.sink.SinkConnector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The worker decides what a connector may use: a connector configuration naming a KMS address, token file or
 * variable, PKCS#11 module, Kafka cluster, database URL or index directory that the worker's allowlist does not list
 * is refused, by Connect's validation and at start, with the error on the setting it names.
 */
class WorkerAllowlistTest {

    @TempDir
    Path dir;

    Path allowlist;

    @BeforeEach
    void writeTheWorkersList() throws IOException {
        allowlist = dir.resolve("connect-allowlist.properties");
        Files.writeString(
                allowlist,
                String.join(
                        "\n",
                        "# the compose stack's worker",
                        "kms.provider=vault",
                        "kms.vault.address=https://vault:8200",
                        "kms.vault.token-file=/secrets/sink-token",
                        "embedseal.bootstrap.servers=kafka:9092",
                        "postgres.url=jdbc:postgresql://postgres:5432/vectors",
                        "lucene.dir=/var/lib/embedseal/lucene",
                        "kms.events.verification=required",
                        "kms.events.trusted-signers=kms:embedseal-operator-signing",
                        "embedseal.topics.key-events=keyring.events",
                        "embedseal.client.security.protocol=SASL_PLAINTEXT",
                        ""));
        System.setProperty(WorkerAllowlist.PROPERTY, allowlist.toString());
    }

    @AfterEach
    void clear() {
        System.clearProperty(WorkerAllowlist.PROPERTY);
    }

    static Map<String, String> lucene() {
        Map<String, String> m = new HashMap<>();
        m.put("name", "lucene-test");
        m.put("topics", "embeddings.sealed");
        m.put(EmbedsealSinkConfig.BOOTSTRAP_SERVERS, "kafka:9092");
        m.put(LuceneSinkConfig.DIR, "/var/lib/embedseal/lucene");
        m.put("kms.provider", "vault");
        m.put("kms.vault.address", "https://vault:8200");
        m.put("kms.vault.token-file", "/secrets/sink-token");
        return m;
    }

    static Map<String, String> postgres() {
        Map<String, String> m = lucene();
        m.remove(LuceneSinkConfig.DIR);
        m.put("name", "pg-test");
        m.put(PostgresSinkConfig.URL, "jdbc:postgresql://postgres:5432/vectors");
        return m;
    }

    static Map<String, String> with(Map<String, String> base, Consumer<Map<String, String>> change) {
        Map<String, String> m = new HashMap<>(base);
        change.accept(m);
        return m;
    }

    static List<String> errors(Config c, String name) {
        return c.configValues().stream()
                .filter(v -> v.name().equals(name))
                .findFirst()
                .map(ConfigValue::errorMessages)
                .orElseThrow();
    }

    static List<String> allErrors(Config c) {
        return c.configValues().stream()
                .flatMap(v -> v.errorMessages().stream())
                .toList();
    }

    /** Refused by validate (the error on kms.provider, the setting not being Connect's) and by start, naming it. */
    static void refusedAnywhere(Map<String, String> config, String setting) {
        assertThat(allErrors(new LuceneSinkConnector().validate(config)))
                .anySatisfy(m -> assertThat(m).contains(setting).contains("not allowed by this Connect worker"));
        assertThatThrownBy(() -> new LuceneSinkConnector().start(config))
                .isInstanceOf(InvalidSettingException.class)
                .extracting(e -> ((InvalidSettingException) e).setting())
                .isEqualTo(setting);
    }

    /** Refused by validate, with the error on {@code setting}, and by start. */
    static void refused(SinkConnector connector, Map<String, String> config, String setting) {
        Config validated = connector.validate(config);
        assertThat(errors(validated, setting))
                .as("validate's errors on " + setting)
                .singleElement()
                .asString()
                .contains(setting)
                .contains("allowlist")
                .contains("not allowed by this Connect worker");
        assertThatThrownBy(() -> connector.start(config))
                .isInstanceOf(InvalidSettingException.class)
                .hasMessageContaining(setting)
                .extracting(e -> ((InvalidSettingException) e).setting())
                .isEqualTo(setting);
    }

    @Test
    void whatTheWorkerAllows_passes() {
        assertThat(allErrors(new LuceneSinkConnector().validate(lucene()))).isEmpty();
        assertThat(allErrors(new PostgresSinkConnector().validate(postgres()))).isEmpty();
        // Paths compare normalised.
        assertThat(allErrors(new LuceneSinkConnector()
                        .validate(with(lucene(), m -> m.put("kms.vault.token-file", "/secrets/./x/../sink-token")))))
                .isEmpty();
        // A token given in the configuration itself reads no file and no variable of the worker's.
        assertThat(allErrors(new LuceneSinkConnector().validate(with(lucene(), m -> {
                    m.remove("kms.vault.token-file");
                    m.put(EmbedsealSinkConfig.VAULT_TOKEN, "hvs.its-own");
                }))))
                .isEmpty();
    }

    @Test
    void anotherVaultAddress_isRefused() {
        refused(
                new LuceneSinkConnector(),
                with(lucene(), m -> m.put("kms.vault.address", "https://attacker.example:8200")),
                "kms.vault.address");
        refused(
                new LuceneSinkConnector(),
                with(lucene(), m -> m.put("kms.vault.address", "https://ops@vault:8200")),
                "kms.vault.address");
    }

    @Test
    void anyOtherTokenFile_orATokenVariable_isRefused() {
        refused(
                new LuceneSinkConnector(),
                with(lucene(), m -> m.put("kms.vault.token-file", "/secrets/operator-token")),
                "kms.vault.token-file");
        // Without a file, the token would come from the worker's VAULT_TOKEN (the default kms.vault.token-env).
        refused(
                new LuceneSinkConnector(),
                with(lucene(), m -> m.remove("kms.vault.token-file")),
                "kms.vault.token-env");
        refused(
                new LuceneSinkConnector(),
                with(lucene(), m -> {
                    m.remove("kms.vault.token-file");
                    m.put("kms.vault.token-env", "AWS_SECRET_ACCESS_KEY");
                }),
                "kms.vault.token-env");
        refused(
                new LuceneSinkConnector(),
                with(lucene(), m -> m.put("kms.vault.ca-file", "/etc/ssl/private/server.key")),
                "kms.vault.ca-file");
    }

    @Test
    void anotherKms_aPkcs11Module_orTheLocalKms_isRefused() {
        refused(
                new LuceneSinkConnector(),
                with(lucene(), m -> {
                    m.put("kms.provider", "pkcs11");
                    m.put("kms.pkcs11.library", "/tmp/evil.so");
                }),
                "kms.provider");
        refused(new LuceneSinkConnector(), with(lucene(), m -> m.put("kms.provider", "local")), "kms.provider");
        // A PKCS#11 module named while the provider is vault is refused too: nothing unchecked lies in wait.
        refused(
                new LuceneSinkConnector(),
                with(lucene(), m -> m.put("kms.pkcs11.library", "/tmp/evil.so")),
                "kms.pkcs11.library");
    }

    @Test
    void anotherDatabase_anotherCluster_orAnotherDirectory_isRefused() {
        Map<String, String> elsewhere = with(
                postgres(),
                m -> m.put(PostgresSinkConfig.URL, "jdbc:postgresql://attacker.example:5432/loot?password=hunter2"));
        refused(new PostgresSinkConnector(), elsewhere, PostgresSinkConfig.URL);
        assertThat(allErrors(new PostgresSinkConnector().validate(elsewhere)).toString())
                .as("a JDBC URL's parameters may hold a password: never shown")
                .doesNotContain("hunter2");
        refused(
                new PostgresSinkConnector(),
                with(
                        postgres(),
                        m -> m.put(PostgresSinkConfig.URL, "jdbc:postgresql://postgres:5432/vectors?socketFactory=x")),
                PostgresSinkConfig.URL);
        // The sink's own clients would log in there with the worker's Kafka credentials.
        refused(
                new LuceneSinkConnector(),
                with(lucene(), m -> m.put(EmbedsealSinkConfig.BOOTSTRAP_SERVERS, "kafka:9092,attacker.example:9092")),
                EmbedsealSinkConfig.BOOTSTRAP_SERVERS);
        refused(
                new LuceneSinkConnector(),
                with(lucene(), m -> m.put(LuceneSinkConfig.DIR, "/etc")),
                LuceneSinkConfig.DIR);
    }

    /**
     * The trust roots of key events and where they are read: a connector that could turn verification off, trust
     * its own key or read another topic (a replay without the REVOKED) would unseal revoked tenants. And Kafka client
     * settings: a login, a token endpoint or a class to load is the worker's to allow.
     */
    @Test
    void keyEventTrust_theKeyEventTopic_andClientSettings_areTheWorkers() {
        refusedAnywhere(
                with(lucene(), m -> m.put("kms.events.verification", "disabled-insecure")), "kms.events.verification");
        refusedAnywhere(
                with(lucene(), m -> m.put("kms.events.trusted-signers", "file:/tmp/attacker.pem")),
                "kms.events.trusted-signers");
        refused(
                new LuceneSinkConnector(),
                with(lucene(), m -> m.put(EmbedsealSinkConfig.KEY_EVENTS_TOPIC, "keyring.events.replayed")),
                EmbedsealSinkConfig.KEY_EVENTS_TOPIC);
        refusedAnywhere(
                with(lucene(), m -> m.put(EmbedsealSinkConfig.CLIENT_PREFIX + "interceptor.classes", "evil.Spy")),
                EmbedsealSinkConfig.CLIENT_PREFIX + "interceptor.classes");
        new LuceneSinkConnector()
                .start(with(
                        lucene(),
                        m -> m.put(EmbedsealSinkConfig.CLIENT_PREFIX + "security.protocol", "SASL_PLAINTEXT")));
    }

    @Test
    void aListThatCannotBeRead_orNamesWhatItDoesNotGovern_refusesEveryConnector() throws IOException {
        System.setProperty(
                WorkerAllowlist.PROPERTY, dir.resolve("missing.properties").toString());
        assertThatThrownBy(() -> new LuceneSinkConnector().start(lucene()))
                .isInstanceOf(InvalidSettingException.class)
                .hasMessageContaining("cannot be read")
                .hasMessageContaining(WorkerAllowlist.PROPERTY);

        Files.writeString(allowlist, "kms.vault.adress=https://vault:8200\n");
        System.setProperty(WorkerAllowlist.PROPERTY, allowlist.toString());
        assertThatThrownBy(() -> new LuceneSinkConnector().start(lucene()))
                .hasMessageContaining("kms.vault.adress")
                .hasMessageContaining("does not govern");

        Files.writeString(allowlist, "lucene.dir=relative/dir\n");
        assertThatThrownBy(() -> new LuceneSinkConnector().start(lucene())).hasMessageContaining("absolute path");
    }

    @Test
    void theEnvironmentVariable_namesTheList_andAConnectorCannotSetIt() {
        System.clearProperty(WorkerAllowlist.PROPERTY);
        Map<String, String> env = Map.of(WorkerAllowlist.ENV, allowlist.toString());
        WorkerAllowlist list = WorkerAllowlist.of(name -> null, env::get).orElseThrow();
        assertThat(list.source()).contains(WorkerAllowlist.ENV);
        assertThat(list.settings()).contains("kms.vault.address", "postgres.url");
        // Neither name is a connector setting: a configuration giving them gives nothing.
        Map<String, String> sneaky = with(lucene(), m -> {
            m.put(WorkerAllowlist.ENV, "/dev/null");
            m.put(WorkerAllowlist.PROPERTY, "/dev/null");
            m.put("kms.vault.address", "https://attacker.example:8200");
        });
        System.setProperty(WorkerAllowlist.PROPERTY, allowlist.toString());
        refused(new LuceneSinkConnector(), sneaky, "kms.vault.address");
    }

    @Test
    void withoutAList_everyValueIsAllowed_asBefore() {
        System.clearProperty(WorkerAllowlist.PROPERTY);
        assertThat(WorkerAllowlist.of(name -> null, name -> null)).isEmpty();
        Map<String, String> anywhere = with(lucene(), m -> m.put("kms.vault.address", "https://elsewhere:8200"));
        assertThat(allErrors(new LuceneSinkConnector().validate(anywhere))).isEmpty();
    }
}
