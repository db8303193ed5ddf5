package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.sinks.lucene.LuceneSinkConfig;
import io.embedseal.sinks.lucene.LuceneSinkConnector;
import io.embedseal.sinks.lucene.LuceneSinkTask;
import io.embedseal.sinks.postgres.PostgresSinkConfig;
import io.embedseal.sinks.postgres.PostgresSinkConnector;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.apache.kafka.common.config.Config;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.ConfigValue;
import org.apache.kafka.connect.sink.SinkConnector;
import org.junit.jupiter.api.Test;

/** The connectors' settings: one definition for connector and task, secrets as passwords, errors that name the setting. */
class ConnectorConfigTest {

    static Map<String, String> lucene() {
        Map<String, String> m = new HashMap<>();
        m.put("name", "lucene-test");
        m.put("topics", "embeddings.sealed");
        m.put(EmbedsealSinkConfig.BOOTSTRAP_SERVERS, "127.0.0.1:9092");
        m.put(LuceneSinkConfig.DIR, "/tmp/embedseal-lucene-test");
        return m;
    }

    static Map<String, String> postgres() {
        Map<String, String> m = new HashMap<>();
        m.put("name", "pg-test");
        m.put("topics", "embeddings.sealed");
        m.put(EmbedsealSinkConfig.BOOTSTRAP_SERVERS, "127.0.0.1:9092");
        m.put(PostgresSinkConfig.URL, "jdbc:postgresql://127.0.0.1/x");
        return m;
    }

    static List<String> errors(Config c, String name) {
        return c.configValues().stream()
                .filter(v -> v.name().equals(name))
                .findFirst()
                .map(ConfigValue::errorMessages)
                .orElseThrow();
    }

    @Test
    void bothConnectors_areFoundThroughTheirServiceEntries() {
        List<String> found = ServiceLoader.load(SinkConnector.class).stream()
                .map(p -> p.type().getName())
                .toList();
        assertThat(found).contains(LuceneSinkConnector.class.getName(), PostgresSinkConnector.class.getName());
    }

    @Test
    void secrets_arePasswords_inBothConnectors() {
        for (ConfigDef def : List.of(LuceneSinkConfig.CONFIG_DEF, PostgresSinkConfig.CONFIG_DEF)) {
            assertThat(def.configKeys().get(EmbedsealSinkConfig.VAULT_TOKEN).type)
                    .isEqualTo(ConfigDef.Type.PASSWORD);
            assertThat(def.configKeys().get(EmbedsealSinkConfig.PKCS11_PIN).type)
                    .isEqualTo(ConfigDef.Type.PASSWORD);
        }
        assertThat(PostgresSinkConfig.CONFIG_DEF.configKeys().get(PostgresSinkConfig.PASSWORD).type)
                .isEqualTo(ConfigDef.Type.PASSWORD);
    }

    @Test
    void connectorAndTask_shareOneDefinition() {
        assertThat(new LuceneSinkConnector().config()).isSameAs(LuceneSinkConfig.CONFIG_DEF);
        assertThat(new PostgresSinkConnector().config()).isSameAs(PostgresSinkConfig.CONFIG_DEF);
    }

    @Test
    void validate_putsEachErrorOnTheSettingItNames() {
        Map<String, String> m = lucene();
        m.remove(LuceneSinkConfig.DIR);
        m.put(LuceneSinkConfig.SIMILARITY, "manhattan");
        Config c = new LuceneSinkConnector().validate(m);
        assertThat(errors(c, LuceneSinkConfig.DIR)).isNotEmpty();
        assertThat(errors(c, LuceneSinkConfig.SIMILARITY))
                .singleElement()
                .asString()
                .contains("manhattan");

        Map<String, String> p = postgres();
        p.put(PostgresSinkConfig.MODE, "index");
        assertThat(errors(new PostgresSinkConnector().validate(p), PostgresSinkConfig.VECTOR_DIMENSIONS))
                .singleElement()
                .asString()
                .contains("index mode needs");

        Map<String, String> t = postgres();
        t.put(PostgresSinkConfig.TABLE, "Robert'); DROP TABLE students;--");
        assertThat(errors(new PostgresSinkConnector().validate(t), PostgresSinkConfig.TABLE))
                .isNotEmpty();

        // The keyring's settings come from the configuration model, which names the setting that is wrong: the error
        // sits on it, not on a setting guessed from the message text.
        Map<String, String> k = lucene();
        k.put("dek.max-records", "-1");
        assertThat(errors(new LuceneSinkConnector().validate(k), "dek.max-records"))
                .singleElement()
                .asString()
                .contains("dek.max-records must be a whole number from 1 to 4294967296");
        assertThat(errors(new LuceneSinkConnector().validate(k), EmbedsealSinkConfig.KMS_PROVIDER))
                .isEmpty();
        Map<String, String> v = lucene();
        v.put("kms.provider", "vault");
        v.put("kms.vault.address", "http://127.0.0.1:1");
        v.put("kms.vault.token-env", "SOME_TOKEN");
        v.put("kms.vault.connect-timeout-ms", "soon");
        assertThat(errors(new LuceneSinkConnector().validate(v), "kms.vault.connect-timeout-ms"))
                .singleElement()
                .asString()
                .contains("kms.vault.connect-timeout-ms must be a whole number");
    }

    @Test
    void start_refusesAMissingSetting_byName() {
        Map<String, String> m = lucene();
        m.remove(EmbedsealSinkConfig.BOOTSTRAP_SERVERS);
        assertThatThrownBy(() -> new LuceneSinkConnector().start(m))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(EmbedsealSinkConfig.BOOTSTRAP_SERVERS);
    }

    @Test
    void taskStart_withIncompleteKmsSettings_namesTheMissingSetting() {
        Map<String, String> m = lucene();
        m.put("kms.provider", "vault");
        LuceneSinkTask task = new LuceneSinkTask();
        assertThatThrownBy(() -> task.start(m))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("kms.vault.address");
    }

    @Test
    void vaultTokenGivenAsPassword_reachesTheKmsSettings_butNoStringOfThem() {
        Map<String, String> m = lucene();
        m.put("kms.provider", "vault");
        m.put("kms.vault.address", "http://127.0.0.1:8200");
        m.put(EmbedsealSinkConfig.VAULT_TOKEN, "hvs.very-secret-token");
        LuceneSinkConfig c = new LuceneSinkConfig(m);
        assertThat(c.keyringSettings().env(c.keyringSettings().raw("kms.vault.token-env", "VAULT_TOKEN")))
                .isEqualTo("hvs.very-secret-token");
        assertThat(c.keyringSettings().toString()).doesNotContain("very-secret");
        assertThat(c.keyringSettings().asMap().values()).noneMatch(v -> v.contains("very-secret"));
        assertThat(c.getPassword(EmbedsealSinkConfig.VAULT_TOKEN).toString()).doesNotContain("very-secret");
    }

    @Test
    void luceneConnector_runsOneTask_whateverTasksMaxSays() {
        LuceneSinkConnector c = new LuceneSinkConnector();
        c.start(lucene());
        assertThat(c.taskConfigs(4))
                .singleElement()
                .satisfies(t -> assertThat(t).containsEntry(EmbedsealSinkConfig.TASK_INDEX, "0"));
        PostgresSinkConnector p = new PostgresSinkConnector();
        p.start(postgres());
        assertThat(p.taskConfigs(3))
                .extracting(t -> t.get(EmbedsealSinkConfig.TASK_INDEX))
                .containsExactly("0", "1", "2");
    }
}
