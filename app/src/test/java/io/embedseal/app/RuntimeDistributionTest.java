package io.embedseal.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/**
 * The runtime distribution ({@code embedseal-app}) ships without the demo module and its in-process broker; the
 * build's enforcer rule {@code runtime-without-broker} keeps them out. This module's tests run on that class path.
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
