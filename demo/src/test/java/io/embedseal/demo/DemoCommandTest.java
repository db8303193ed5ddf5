package io.embedseal.demo;

import static io.embedseal.app.CliRun.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.embedseal.app.CliRun;
import io.embedseal.kms.testsupport.OpenBao;
import io.embedseal.kms.testsupport.SoftHsm;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoCommandTest {

    @TempDir
    Path dir;

    @Test
    void demoJson_reportsEveryValidRecordSealedAndOpened_andNoPlaintext() throws Exception {
        Path data = dir.resolve("data");

        CliRun r = run(
                "demo",
                "--json",
                "--tenants",
                "2",
                "--records",
                "60",
                "--partitions",
                "2",
                "--data-dir",
                data.toString());

        assertThat(r.code()).as(r.out() + r.err()).isZero();
        JsonNode json = new ObjectMapper().readTree(r.out());
        assertThat(json.get("ok").asBoolean()).isTrue();
        // One deliberately invalid record of each kind the demo makes, each with the reason it must get.
        Map<String, Integer> invalidByReason = Map.of(
                "EMPTY_VECTOR",
                1,
                "INVALID_TENANT_ID",
                1,
                "MISSING_EMBEDDING_ID",
                1,
                "MISSING_TENANT",
                1,
                "NON_FINITE_VALUE",
                2,
                "UNDECODABLE",
                1,
                "UNKNOWN_SCHEMA_ID",
                1,
                "WRONG_MAGIC_BYTE",
                1);
        int invalid =
                invalidByReason.values().stream().mapToInt(Integer::intValue).sum();
        assertThat(json.get("dlq_by_reason").properties())
                .extracting(e -> Map.entry(e.getKey(), e.getValue().asInt()))
                .containsExactlyInAnyOrderElementsOf(invalidByReason.entrySet());
        assertThat(json.get("produced").asInt()).isEqualTo(2 * 60 + invalid);
        assertThat(json.get("valid").asInt()).isEqualTo(120);
        assertThat(json.get("sealed").asInt()).isEqualTo(120);
        assertThat(json.get("dlq").asInt()).isEqualTo(invalid);
        assertThat(json.get("unseal_mismatches").asInt()).isZero();
        assertThat(json.get("duplicates").asInt()).isZero();
        assertThat(json.get("missing").asInt()).isZero();
        assertThat(json.get("plaintext_hits").asLong()).isZero();
        assertThat(json.get("control_plaintext_hits").asLong()).isPositive();
        assertThat(json.get("dlq_by_reason").get("NON_FINITE_VALUE").asInt()).isEqualTo(2);
        assertThat(json.get("tenants").get("acme").get("sealed").asInt()).isEqualTo(60);
        assertThat(json.get("tenants").get("acme").get("kek").asText()).isEqualTo("local:tenant-acme:1");
        assertThat(json.get("tenants").get("globex").get("kek").asText()).isEqualTo("local:tenant-globex:1");
        assertThat(json.get("seconds").asDouble()).isPositive();
        assertThat(json.get("failures")).isEmpty();
        assertThat(json.get("kms").asText()).isEqualTo("local");
        assertThat(json.get("kms_calls").get("wrap").asInt()).isEqualTo(2);
        assertThat(json.get("kms_calls").get("create").asInt()).isEqualTo(2);
        assertThat(json.get("kms_calls").get("failed").asInt()).isZero();
        assertThat(json.get("audit_chain_intact").asBoolean()).isTrue();
        assertThat(json.get("audit_entries").asInt())
                .as("2 creations, 2 registrations, 2 wraps")
                .isGreaterThanOrEqualTo(6);
        // The sink half: every record indexed, each tenant's own vector found first, the last tenant shredded.
        JsonNode sink = json.get("sink");
        assertThat(sink.get("indexed").get("acme").asInt()).isEqualTo(60);
        assertThat(sink.get("indexed").get("globex").asInt()).isEqualTo(60);
        assertThat(sink.get("searches").get("acme").get("ok").asBoolean()).isTrue();
        assertThat(sink.get("searches").get("globex").get("top_hit").asText())
                .isEqualTo(sink.get("searches").get("globex").get("query").asText());
        // Real sentences by default: each tenant's question answered with three of its own sentences.
        for (String tenant : List.of("acme", "globex")) {
            JsonNode q = sink.get("questions").get(tenant);
            assertThat(q.get("question").asText()).isNotBlank();
            assertThat(q.get("hits")).hasSize(3);
            q.get("hits").forEach(h -> assertThat(h.get("sentence").asText()).hasSizeGreaterThan(20));
        }
        assertThat(sink.get("destroyed").get("tenant").asText()).isEqualTo("globex");
        assertThat(sink.get("destroyed").get("receipt_deleted").get("documents").asInt())
                .isEqualTo(60);
        assertThat(sink.get("destroyed").get("index_gone").asBoolean()).isTrue();
        assertThat(sink.get("destroyed").get("search_refused").asBoolean()).isTrue();
        assertThat(data.resolve("lucene/acme")).isDirectory();
        assertThat(data.resolve("lucene/globex")).doesNotExist();
        assertThat(data.resolve("kms/tenant-globex.keyset.json")).doesNotExist();
        // The given data directory is kept, with the local KMS keyset files readable by the owner only.
        assertThat(data.resolve("kms/tenant-acme.keyset.json")).exists();
        assertThat(java.nio.file.attribute.PosixFilePermissions.toString(
                        Files.getPosixFilePermissions(data.resolve("kms/tenant-acme.keyset.json"))))
                .isEqualTo("rw-------");
    }

    @Test
    void demoOnVault_sealsUnderTransitKeys() throws Exception {
        OpenBao.Namespace vault = OpenBao.namespace();
        Path token = dir.resolve("vault-token");
        // The demo runs every role (operator commands, pipeline, sink) with this one token.
        Files.writeString(token, vault.token("embedseal-operator", "embedseal-pipeline", "embedseal-sink"));

        CliRun r = run(
                "demo",
                "--json",
                "--tenants",
                "2",
                "--records",
                "30",
                "--dims",
                "16",
                "--synthetic-vectors",
                "--kms",
                "vault",
                "--kms-setting",
                "kms.vault.address=" + vault.server().address(),
                "--kms-setting",
                "kms.vault.allow-insecure-http=true",
                "--kms-setting",
                "kms.vault.namespace=" + vault.name(),
                "--kms-setting",
                "kms.vault.token-file=" + token);

        assertThat(r.code()).as(r.out() + r.err()).isZero();
        JsonNode json = new ObjectMapper().readTree(r.out());
        assertThat(json.get("kms").asText()).isEqualTo("vault");
        assertThat(json.has("kms_server"))
                .as("the given Vault, not one the demo started")
                .isFalse();
        assertThat(json.get("sealed").asInt()).isEqualTo(60);
        assertThat(json.get("unseal_mismatches").asInt()).isZero();
        assertThat(json.get("tenants").get("acme").get("kek").asText()).isEqualTo("vault:tenant-acme:1");
        assertThat(json.get("kms_calls").get("wrap").asInt())
                .as("one wrap per tenant DEK")
                .isEqualTo(2);
        assertThat(json.get("kms_calls").get("unwrap").asInt()).isEqualTo(2);
        assertThat(json.get("kms_calls").get("failed").asInt()).isZero();
        assertThat(vault.hasKey("tenant-acme")).isTrue();
        assertThat(vault.hasKey("tenant-globex"))
                .as("destroyed by the demo's last step")
                .isFalse();
        assertThat(json.get("sink").get("destroyed").get("search_refused").asBoolean())
                .isTrue();
        assertThat(json.get("ok").asBoolean())
                .as(json.get("failures").toString())
                .isTrue();
    }

    @Test
    void demoOnVault_withoutAnAddress_startsItsOwnOpenBaoDevServer_overTls_andStopsIt() throws Exception {
        OpenBao.binary(); // skips (fails in CI) without bao, as the demo would refuse to start
        Path data = dir.resolve("vault-demo");

        CliRun r = run(
                "demo",
                "--json",
                "--tenants",
                "2",
                "--records",
                "20",
                "--dims",
                "16",
                "--synthetic-vectors",
                "--kms",
                "vault",
                "--data-dir",
                data.toString());

        assertThat(r.code()).as(r.out() + r.err()).isZero();
        JsonNode json = new ObjectMapper().readTree(r.out());
        assertThat(json.get("ok").asBoolean())
                .as(json.get("failures").toString())
                .isTrue();
        assertThat(json.get("kms").asText()).isEqualTo("vault");
        assertThat(json.get("kms_server").asText())
                .startsWith("OpenBao dev server at https://127.0.0.1:")
                .contains("development only");
        assertThat(json.get("tenants").get("acme").get("kek").asText()).isEqualTo("vault:tenant-acme:1");
        assertThat(r.err()).contains("DEVELOPMENT SERVER");
        String address = json.get("kms_server").asText().replaceAll(".* at (https://[^,]+),.*", "$1");
        HttpClient http =
                HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        assertThatThrownBy(() -> http.send(
                        HttpRequest.newBuilder(URI.create(address + "/v1/sys/health"))
                                .build(),
                        HttpResponse.BodyHandlers.discarding()))
                .as("the dev server is stopped with the demo")
                .isInstanceOf(java.io.IOException.class);
        String log = Files.readString(data.resolve("openbao/openbao.log"));
        assertThat(log).contains("Root Token: <kept in memory>").contains("Unseal Key: <kept in memory>");
        assertThat(Files.readString(data.resolve("openbao/root-token")))
                .isNotBlank()
                .satisfies(t -> assertThat(log).doesNotContain(t));
    }

    @Test
    void demoOnPkcs11_sealsUnderTokenKeys() throws Exception {
        SoftHsm.Token token = SoftHsm.sharedToken();
        List<String> args = new ArrayList<>(List.of(
                "demo",
                "--json",
                "--tenants",
                "2",
                "--records",
                "30",
                "--dims",
                "16",
                "--synthetic-vectors",
                "--kms",
                "pkcs11"));
        token.settings().forEach((k, v) -> {
            if (!k.equals("kms.provider")) {
                args.add("--kms-setting");
                args.add(k + "=" + v);
            }
        });

        CliRun r = run(args.toArray(String[]::new));

        assertThat(r.code()).as(r.out() + r.err()).isZero();
        JsonNode json = new ObjectMapper().readTree(r.out());
        assertThat(json.get("kms").asText()).isEqualTo("pkcs11");
        assertThat(json.get("sealed").asInt()).isEqualTo(60);
        assertThat(json.get("unseal_mismatches").asInt()).isZero();
        assertThat(json.get("tenants").get("acme").get("kek").asText()).startsWith("pkcs11:tenant-acme:");
        assertThat(json.get("sink")
                        .get("destroyed")
                        .get("receipt_deleted")
                        .get("documents")
                        .asInt())
                .isEqualTo(30);
        assertThat(json.get("ok").asBoolean())
                .as(json.get("failures").toString())
                .isTrue();
    }

    @Test
    void unreachableKms_isAClearFailure() {
        CliRun r = run(
                "demo",
                "--tenants",
                "1",
                "--records",
                "5",
                "--kms",
                "vault",
                "--kms-setting",
                "kms.vault.address=http://127.0.0.1:9",
                "--kms-setting",
                "kms.vault.token-env=NO_SUCH_VARIABLE_HERE");

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("NO_SUCH_VARIABLE_HERE");
    }

    @Test
    void badKmsSetting_isAUsageError() {
        CliRun r = run("demo", "--kms-setting", "vault.address=x");

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--kms-setting must be KEY=VALUE with a kms.* or dek.* key");
    }

    @Test
    void demoSummary_isForPeople() {
        CliRun r = run("demo", "--tenants", "1", "--records", "10", "--dims", "8", "--synthetic-vectors");

        assertThat(r.code()).as(r.out() + r.err()).isZero();
        assertThat(r.out())
                .contains(
                        "sealed",
                        "10 of 10 valid",
                        "0 mismatches",
                        "acme",
                        "local:tenant-acme:1",
                        "OK:",
                        "10 records indexed by the Lucene sink",
                        "top hit");
    }

    @Test
    void demoSummary_withRealSentences_showsEachTenantsQuestionAndItsAnswers() {
        CliRun r = run("demo", "--tenants", "1", "--records", "40");

        assertThat(r.code()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("question", "\"" + DemoEmbeddings.question(0) + "\"", " 1. ", " 3. ");
    }

    @Test
    void otherDimensions_needSyntheticVectors() {
        CliRun r = run("demo", "--dims", "32");

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--dims 32", "--synthetic-vectors");
    }

    @Test
    void outOfRangeOption_isAUsageErrorNamingTheOption() {
        CliRun r = run("demo", "--tenants", "0");

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--tenants must be between 1 and 1000, got 0");
    }

    @Test
    void nonEmptyDataDir_isRefused() throws Exception {
        Files.writeString(dir.resolve("something"), "x");

        CliRun r = run("demo", "--data-dir", dir.toString());

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("is not empty");
    }

    @Test
    void noCommand_isAUsageError_andHelpWorks() {
        assertThat(run().code()).isEqualTo(2);
        CliRun help = run("--help");
        assertThat(help.code()).isZero();
        assertThat(help.out()).contains("demo", "Exit codes");
    }
}
