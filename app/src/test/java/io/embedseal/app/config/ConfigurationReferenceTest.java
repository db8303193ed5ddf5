package io.embedseal.app.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.config.Setting;
import io.embedseal.topology.PipelineConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * docs/configuration.md holds the reference generated from the configuration model, and it is current. To
 * regenerate it: {@code ./mvnw -pl app test -Dtest=ConfigurationReferenceTest -Dembedseal.docs.write=true}.
 */
class ConfigurationReferenceTest {

    private static final Path PAGE = Path.of("..", "docs", "configuration.md");

    @Test
    void theCommittedReference_isTheOneTheModelGenerates() throws Exception {
        String page = Files.readString(PAGE, StandardCharsets.UTF_8);
        int begin = page.indexOf(ConfigurationReference.BEGIN);
        int end = page.indexOf(ConfigurationReference.END);
        assertThat(begin).as("docs/configuration.md has the generated block").isNotNegative();
        assertThat(end).isGreaterThan(begin);
        String committed = page.substring(begin, end + ConfigurationReference.END.length() + 1);
        String generated = ConfigurationReference.markdown();
        if (Boolean.getBoolean("embedseal.docs.write")) {
            Files.writeString(
                    PAGE,
                    page.substring(0, begin)
                            + generated
                            + page.substring(end + ConfigurationReference.END.length() + 1),
                    StandardCharsets.UTF_8);
            return;
        }
        assertThat(committed)
                .as("docs/configuration.md is out of date with the model; regenerate it with "
                        + "./mvnw -pl app test -Dtest=ConfigurationReferenceTest -Dembedseal.docs.write=true")
                .isEqualTo(generated);
    }

    @Test
    void everySettingTheCodeReads_isDocumented_withAType_andADescription() {
        for (Setting<?> s : PipelineConfig.model().settings()) {
            assertThat(s.doc()).as("description of %s", s.displayName()).isNotBlank();
            assertThat(ConfigurationReference.markdown()).contains("`" + s.displayName() + "`");
        }
    }

    @Test
    void everySetting_canBeOverriddenFromTheEnvironment_evenWhenTheFileDoesNotNameIt() {
        // Settings the old hand-kept list forgot: the Vault timeouts, the retry backoff, the embedding-id limit.
        Map<String, String> env = Map.of(
                "EMBEDSEAL_KMS_VAULT_READ_TIMEOUT_MS",
                "2500",
                "EMBEDSEAL_KMS_RETRY_MAX_BACKOFF_MS",
                "700",
                "EMBEDSEAL_VALIDATION_EMBEDDING_ID_MAX_BYTES",
                "200",
                "EMBEDSEAL_HTTP_PORT",
                "9090");
        PipelineConfig c = PipelineConfig.of(Map.of("bootstrap.servers", "k:9092"), env::get);

        assertThat(c.asMap())
                .containsEntry("kms.vault.read-timeout-ms", "2500")
                .containsEntry("kms.retry.max-backoff-ms", "700");
        assertThat(c.validationLimits().embeddingIdMaxBytes()).isEqualTo(200);
        assertThat(c.keyringSettings().retryPolicy().maxBackoff().toMillis()).isEqualTo(700);
        assertThat(c.get(PipelineConfig.HTTP_PORT)).isEqualTo(9090);
    }

    @Test
    void aBadValue_isRefusedAtStart_namingTheSettingFromTheModel() {
        assertThatThrownBy(() -> PipelineConfig.of(
                        Map.of("bootstrap.servers", "k:9092", "outage.max-wait-seconds", "forever"), n -> null))
                .isInstanceOf(io.embedseal.config.ConfigValueException.class)
                .hasMessage("outage.max-wait-seconds must be a whole number from 1 to 3600, got 'forever'")
                .extracting(e -> ((io.embedseal.config.ConfigValueException) e).setting())
                .isEqualTo("outage.max-wait-seconds");
        assertThatThrownBy(() -> PipelineConfig.of(Map.of(), n -> null))
                .hasMessageContaining("bootstrap.servers is required")
                .hasMessageContaining("EMBEDSEAL_BOOTSTRAP_SERVERS");
    }
}
