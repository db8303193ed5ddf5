package io.embedseal.app.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipped alert rules with Debian's promtool: {@code promtool check rules} and {@code check config} accept
 * them, and {@code promtool test rules dashboards/alerts_test.yml} passes, where every alert has a case that fires
 * and one that must stay quiet. A rule changed without its tests fails (the positive control below).
 */
class AlertRulesTest {

    static final Path ALERTS = PrometheusTools.DASHBOARDS.resolve("alerts.yml");
    static final Path ALERT_TESTS = PrometheusTools.DASHBOARDS.resolve("alerts_test.yml");

    @Test
    void promtoolChecksTheRules_andTheScrapeConfigurationThatLoadsThem() throws Exception {
        Path promtool = PrometheusTools.promtool();
        PrometheusTools.Result rules =
                PrometheusTools.run(60, promtool.toString(), "check", "rules", ALERTS.toString());
        assertThat(rules.code()).as(rules.output()).isZero();
        assertThat(rules.output()).contains("SUCCESS: " + alerts().size() + " rules found");

        // promtool checks that the scrape's credentials file exists: a copy of the configuration names a token file
        // that does (the compose stack mounts /secrets/status-token), next to a copy of the rules it loads.
        Path dir = Files.createTempDirectory("embedseal-promtool");
        Path token = Files.writeString(dir.resolve("status-token"), "a-token-of-sixteen-or-more-characters");
        Files.copy(ALERTS, dir.resolve("alerts.yml"));
        String yml = Files.readString(PrometheusTools.DASHBOARDS.resolve("prometheus.yml"));
        assertThat(yml).contains("credentials_file: /secrets/status-token");
        Path copy = Files.writeString(
                dir.resolve("prometheus.yml"), yml.replace("/secrets/status-token", token.toString()));
        PrometheusTools.Result config =
                PrometheusTools.run(60, promtool.toString(), "check", "config", copy.toString());
        assertThat(config.code()).as(config.output()).isZero();
        assertThat(config.output()).contains("1 rule files found");
    }

    @Test
    void promtoolUnitTestsOfTheRules_pass() throws Exception {
        Path promtool = PrometheusTools.promtool();
        PrometheusTools.Result r =
                PrometheusTools.run(120, promtool.toString(), "test", "rules", ALERT_TESTS.toString());
        assertThat(r.code()).as(r.output()).isZero();
        assertThat(r.output()).contains("SUCCESS");
    }

    @Test
    void everyAlert_hasACaseWhereItFires_andOneWhereItStaysQuiet() throws Exception {
        Set<String> alerts = alerts();
        assertThat(alerts)
                .contains(
                        "EmbedsealRevocationNotApplied",
                        "EmbedsealKeyEventFollowerDown",
                        "EmbedsealDeadLetterRateHigh",
                        "EmbedsealKmsErrors",
                        "EmbedsealConsumerLagGrowing",
                        "EmbedsealTenantDegraded");
        Map<String, Integer> fires = new TreeMap<>();
        Map<String, Integer> quiet = new TreeMap<>();
        JsonNode tests = new ObjectMapper(new YAMLFactory()).readTree(ALERT_TESTS.toFile());
        assertThat(tests.get("rule_files").get(0).asText()).isEqualTo("alerts.yml");
        for (JsonNode t : tests.get("tests")) {
            for (JsonNode check : t.get("alert_rule_test")) {
                String name = check.get("alertname").asText();
                assertThat(alerts)
                        .as("alerts_test.yml tests an alert alerts.yml has")
                        .contains(name);
                (check.get("exp_alerts").isEmpty() ? quiet : fires).merge(name, 1, Integer::sum);
            }
        }
        assertThat(fires.keySet()).as("alerts with a case where they fire").isEqualTo(alerts);
        assertThat(quiet.keySet())
                .as("alerts with a case where they must stay quiet (exp_alerts: [])")
                .isEqualTo(alerts);
    }

    @Test
    void aRuleChangedWithoutItsTests_failsThem(@TempDir Path dir) throws Exception {
        // The positive control: the same tests against a rule file with one threshold moved must fail, so a SUCCESS
        // above means the expectations were really compared.
        Path promtool = PrometheusTools.promtool();
        String rules = Files.readString(ALERTS);
        String broken = rules.replace("> 0.01", "> 0.05");
        assertThat(broken).isNotEqualTo(rules);
        Files.writeString(dir.resolve("alerts.yml"), broken);
        Files.copy(ALERT_TESTS, dir.resolve("alerts_test.yml"));
        PrometheusTools.Result r = PrometheusTools.run(
                120,
                promtool.toString(),
                "test",
                "rules",
                dir.resolve("alerts_test.yml").toString());
        assertThat(r.code()).as(r.output()).isNotZero();
        assertThat(r.output()).contains("FAILED").contains("EmbedsealDeadLetterRateHigh");
    }

    static Set<String> alerts() throws Exception {
        Set<String> out = new TreeSet<>();
        for (JsonNode g :
                new ObjectMapper(new YAMLFactory()).readTree(ALERTS.toFile()).get("groups")) {
            for (JsonNode r : g.get("rules")) {
                out.add(r.get("alert").asText());
            }
        }
        return out;
    }
}
