package io.embedseal.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/**
 * The runtime distribution ({@code embedseal-app}) ships without the demo module and its in-process broker; the
 * build's enforcer rule {@code runtime-without-broker} is what keeps the broker out of its dependency tree. These tests
 * check what the command line does without the demo module (this module's test class path also holds the test kit).
 */
class RuntimeDistributionTest {

    @Test
    void theDemoModuleIsNotOnTheRuntimeClassPath() {
        assertThatThrownBy(() -> Class.forName("io.embedseal.demo.DemoCommand"))
                .isInstanceOf(ClassNotFoundException.class);
    }

    @Test
    void demoAndBench_sayTheyNeedTheDevelopmentDistribution_insteadOfBeingUnknown() {
        for (String command : new String[] {"demo", "bench"}) {
            CliRun r = CliRun.run(command, "--json");

            assertThat(r.code()).isEqualTo(2);
            assertThat(r.err()).contains("embedseal " + command + ": not part of this distribution", "source checkout");
        }
        assertThat(CliRun.run("--help").out()).contains("demo", "bench", "development distribution only");
    }
}
