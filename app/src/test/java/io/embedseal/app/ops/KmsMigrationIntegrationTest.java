package io.embedseal.app.ops;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.app.CliRun;
import io.embedseal.app.TestPipelineConfig;
import io.embedseal.control.KeyEvents;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.kms.testsupport.OpenBao;
import io.embedseal.schemas.KeyEvent;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.envelope.EnvelopeException;
import io.embedseal.serdes.envelope.EnvelopeHeader;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.sinks.postgres.PostgresSinkConfig;
import io.embedseal.sinks.postgres.PostgresVectorStore;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import io.embedseal.testkit.PostgresServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The migration runbook of docs/key-lifecycle.md against the real CLI, a real broker, a real PostgreSQL server, the
 * local KMS and a real Vault API (OpenBao): a tenant whose rows span two versions of its local key moves to a key in
 * Vault (a run stopped halfway publishes nothing; the next finishes and publishes MIGRATED); its key in the local KMS
 * is then destroyed, and every one of its rows opens through Vault alone, while no row of another tenant opens there
 * and none was touched.
 */
class KmsMigrationIntegrationTest {

    @TempDir
    Path dir;

    Path config;

    CliRun cli(String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.addAll(List.of("--config", config.toString(), "--actor", "migration-test"));
        return CliRun.run(all.toArray(String[]::new));
    }

    static CliRun ok(CliRun r) {
        assertThat(r.code()).as(r.out() + r.err()).isZero();
        return r;
    }

    @Test
    void localToVault_thenTheOldKeyIsDestroyed_andEveryRowOfTheTenantOpensThroughVaultAlone() throws Exception {
        PostgresServer.unavailableBecause().ifPresent(why -> {
            if (PostgresServer.required()) {
                throw new IllegalStateException(why);
            }
            org.junit.jupiter.api.Assumptions.abort(why);
        });
        String prefix = "migrate-" + UUID.randomUUID().toString().substring(0, 6) + "-";
        EmbeddedKafkaBroker.shared().createTopic(prefix + "events", 1, Map.of());
        EmbeddedKafkaBroker.shared().createTopic(prefix + "audit", 1, Map.of());
        config = TestPipelineConfig.write(dir, EmbeddedKafkaBroker.shared().bootstrapServers(), prefix);
        Path kmsDir = dir.resolve("kms");
        ok(cli("tenants", "add", "--tenant", "acme", "--create-key"));
        ok(cli("tenants", "add", "--tenant", "other", "--create-key"));

        String table = PostgresServer.freshTable("migrate");
        Map<String, String> s = new HashMap<>();
        s.put("name", "migrate-test");
        s.put("embedseal.bootstrap.servers", "127.0.0.1:9");
        s.put(PostgresSinkConfig.URL, PostgresServer.URL);
        s.put(PostgresSinkConfig.USER, PostgresServer.USER);
        s.put(PostgresSinkConfig.PASSWORD, PostgresServer.PASSWORD);
        s.put(PostgresSinkConfig.TABLE, table);
        s.put(PostgresSinkConfig.MODE, "sealed");
        try (PostgresVectorStore store = PostgresVectorStore.open(new PostgresSinkConfig(s), "migrate-test", 0)) {
            for (int dek = 0; dek < 2; dek++) {
                Sealer sealer = new Sealer(Keyring.of(new LocalKms(kmsDir)));
                for (int i = 0; i < 30; i++) {
                    store.upsert(KeyRewrapIntegrationTest.stored(sealer, "acme", "v1-" + dek + "-" + i, false));
                }
                store.upsert(KeyRewrapIntegrationTest.stored(sealer, "other", "o-" + dek, false));
            }
            store.flush();
            ok(cli("keys", "rotate", "--tenant", "acme")); // rows under two versions of the local key
            Sealer sealer = new Sealer(Keyring.of(new LocalKms(kmsDir)));
            for (int i = 0; i < 20; i++) {
                store.upsert(KeyRewrapIntegrationTest.stored(sealer, "acme", "v2-" + i, false));
            }
            store.flush();
        }
        Map<String, byte[]> otherBefore = KeyRewrapIntegrationTest.rows(table, "other");

        // The target: a key in Vault, with settings (and a token file) of its own.
        OpenBao.Namespace vault = OpenBao.namespace();
        Path token = dir.resolve("vault.token");
        Files.writeString(token, vault.rootToken());
        Map<String, String> target = new HashMap<>(vault.settings());
        target.remove("kms.vault.token-env");
        target.put("kms.vault.token-file", token.toString());
        Path targetFile = dir.resolve("target-kms.properties");
        StringBuilder props = new StringBuilder();
        target.forEach((k, v) -> props.append(k).append('=').append(v).append('\n'));
        Files.writeString(targetFile, props);
        Path password = dir.resolve("pg-password");
        Files.writeString(password, PostgresServer.PASSWORD);
        List<String> migrate = new ArrayList<>(List.of(
                "tenants",
                "migrate",
                "--tenant",
                "acme",
                "--to",
                targetFile.toString(),
                "--create-key",
                "--postgres-url",
                PostgresServer.URL,
                "--postgres-user",
                PostgresServer.USER,
                "--postgres-password-file",
                password.toString(),
                "--postgres-table",
                table,
                "--batch-size",
                "10"));
        List<String> crashing = new ArrayList<>(migrate);
        crashing.addAll(List.of("--stop-after-rows", "25"));
        CliRun partial = cli(crashing.toArray(String[]::new));
        assertThat(partial.code()).as(partial.out() + partial.err()).isEqualTo(1);
        assertThat(partial.out()).contains("MIGRATED not published");
        assertThat(types(prefix, "acme")).doesNotContain(KeyEventType.MIGRATED);

        CliRun done = ok(cli(migrate.toArray(String[]::new)));
        assertThat(done.out()).contains("MIGRATED published");
        assertThat(types(prefix, "acme")).endsWith(KeyEventType.MIGRATED);
        assertThat(ok(cli("tenants", "show", "--tenant", "acme")).out()).contains("vault");

        // The old KMS's key is gone: nothing of acme opens through the local KMS any more.
        try (LocalKms local = new LocalKms(kmsDir)) {
            local.destroy("tenant-acme");
        }
        Map<String, byte[]> acme = KeyRewrapIntegrationTest.rows(table, "acme");
        assertThat(acme).hasSize(80);
        Map<String, String> readerSettings = new HashMap<>(vault.settings());
        try (KmsProvider provider =
                KmsProviders.create(KeyringSettings.of(readerSettings, name -> vault.rootToken()))) {
            Sealer throughVault = new Sealer(Keyring.of(provider));
            for (Map.Entry<String, byte[]> row : acme.entrySet()) {
                assertThat(EnvelopeHeader.parse(row.getValue()).kek()).hasToString("vault:tenant-acme:1");
                assertThat(throughVault
                                .unseal(row.getValue(), "acme", row.getKey())
                                .plaintext())
                        .isNotEmpty();
            }
            Map<String, byte[]> other = KeyRewrapIntegrationTest.rows(table, "other");
            assertThat(other).usingRecursiveComparison().isEqualTo(otherBefore);
            for (Map.Entry<String, byte[]> row : other.entrySet()) {
                try {
                    throughVault.unseal(row.getValue(), "other", row.getKey());
                    throw new AssertionError("another tenant's row opened through the new KMS");
                } catch (EnvelopeException expected) {
                    assertThat(expected.reason()).isEqualTo(EnvelopeException.Reason.WRONG_BINDING);
                }
                // and still opens where it always did
                assertThat(new Sealer(Keyring.of(new LocalKms(kmsDir)))
                                .unseal(row.getValue(), "other", row.getKey())
                                .plaintext())
                        .isNotEmpty();
            }
        }
    }

    private List<KeyEventType> types(String prefix, String tenant) {
        List<KeyEventType> out = new ArrayList<>();
        TopicReader.read(
                Map.of("bootstrap.servers", EmbeddedKafkaBroker.shared().bootstrapServers()),
                prefix + "events",
                -1,
                r -> {
                    String key = new String(r.key(), StandardCharsets.UTF_8);
                    if (key.equals(tenant)) {
                        KeyEvent e = KeyEvents.read(key, r.value()).event();
                        out.add(e.getType());
                    }
                },
                null);
        return out;
    }
}
