package io.embedseal.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

class SettingsModelTest {

    private static final Setting<Long> TIMEOUT =
            Setting.longValue("a.timeout-ms", 100, 1, 1000).doc("t");
    private static final Setting<Integer> DIMS =
            Setting.intValue("a.dims.", 1, 1, 10).family("model").doc("d");
    private static final Setting<String> URL =
            Setting.string("a.url", null).required("(e.g. http://x)").doc("u");
    private static final SettingsModel MODEL = SettingsModel.of("a", TIMEOUT, DIMS, URL);

    @Test
    void theEnvironment_overridesEverySetting_evenOneTheFileDoesNotName() {
        Map<String, String> env = Map.of("EMBEDSEAL_A_TIMEOUT_MS", "250", "EMBEDSEAL_A_DIMS_MINI", "7");
        Map<String, String> values = MODEL.withEnvironment(Map.of("a.dims.mini", "3"), env::get);

        Settings s = Settings.of(values, env::get);
        assertThat(s.get(TIMEOUT)).isEqualTo(250L);
        assertThat(s.family(DIMS)).containsExactly(Map.entry("mini", 7));
    }

    @Test
    void aBadValue_namesItsSetting_whatWasGiven_andWhatIsAllowed() {
        Settings s = Settings.of(Map.of("a.timeout-ms", "2000", "a.dims.big", "x"), n -> null);

        assertThatThrownBy(() -> s.get(TIMEOUT))
                .isInstanceOf(ConfigValueException.class)
                .hasMessage("a.timeout-ms must be a whole number from 1 to 1000, got '2000'")
                .extracting(e -> ((ConfigValueException) e).setting())
                .isEqualTo("a.timeout-ms");
        assertThatThrownBy(() -> s.family(DIMS))
                .isInstanceOf(ConfigValueException.class)
                .extracting(e -> ((ConfigValueException) e).setting())
                .isEqualTo("a.dims.big");
        assertThatThrownBy(() -> s.get(URL))
                .hasMessage("a.url is required (e.g. http://x) (set it in the configuration or EMBEDSEAL_A_URL)");
    }

    @Test
    void unknownNames_areListed_andADefinitionIsNeverGivenTwice() {
        assertThat(MODEL.unknown(Map.of("a.timeout-ms", "1", "a.dims.x", "2", "a.timout-ms", "3")))
                .containsExactly("a.timout-ms");
        assertThatThrownBy(() -> MODEL.with(SettingsModel.of("b", Setting.string("a.url", "other"))))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("a.url is defined twice");
    }

    @Test
    void theReference_documentsEverySetting_withItsEnvironmentVariable() {
        assertThat(MODEL.markdown())
                .contains(
                        "| `a.timeout-ms` | long | `100` | 1..1000 |",
                        "`EMBEDSEAL_A_TIMEOUT_MS`",
                        "| `a.dims.<model>` | int |",
                        "**Required** (e.g. http://x)");
    }
}
