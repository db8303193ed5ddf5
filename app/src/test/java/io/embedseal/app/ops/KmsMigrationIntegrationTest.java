package io.embedseal.app.ops;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.app.CliRun;
import io.embedseal.app.TestSigning;
import io.embedseal.control.KeyEvents;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.KmsProviders;
import io.embedseal.keyring.kms.KmsOperation;
import io.embedseal.keyring.kms.KmsProvider;
import io.embedseal.kms.testsupport.OpenBao;
import io.embedseal.kms.testsupport.SoftHsm;
import io.embedseal.schemas.KeyEvent;
import io.embedseal.schemas.KeyEventType;
import io.embedseal.serdes.envelope.EnvelopeException;
import io.embedseal.serdes.envelope.EnvelopeHeader;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.sinks.postgres.PostgresVectorStore;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import io.embedseal.testkit.PostgresServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The migration runbook of docs/key-lifecycle.md against the real CLI, a real broker, a real PostgreSQL server and the
 * real KMSs that run here: the local KMS, a real Vault API (OpenBao) and a PKCS#11 token (SoftHSM2), from each to
 * another. A tenant's rows (spanning two versions of its key where the KMS can rotate) move to a key in the target
 * KMS; a run stopped halfway publishes nothing, the next finishes and publishes MIGRATED; the tenant's key in the old
 * KMS is then destroyed, and every one of its rows opens through the new KMS alone, while no row of another tenant
 * opens there and none was touched.
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

    /** The settings of one KMS, its secrets in files; each call gives a fresh place (directory, namespace). */
    Map<String, String> kms(String kind) throws Exception {
        Map<String, String> s = new LinkedHashMap<>();
        switch (kind) {
            case "local" -> {
                s.put("kms.provider", "local");
                s.put(
                        "kms.local.dir",
                        TestSigning.installInto(dir.resolve("kms-" + UUID.randomUUID()))
                                .toString());
            }
            case "vault" -> {
                OpenBao.Namespace vault = OpenBao.namespace();
                Path token = dir.resolve("vault-" + UUID.randomUUID() + ".token");
                Files.writeString(token, vault.rootToken());
                s.putAll(vault.settings());
                s.remove("kms.vault.token-env");
                s.put("kms.vault.token-file", token.toString());
            }
            case "pkcs11" -> {
                SoftHsm.assumeAvailable();
                s.putAll(SoftHsm.sharedToken().settings());
            }
            default -> throw new IllegalArgumentException(kind);
        }
        return s;
    }

    static KmsProvider open(Map<String, String> settings) {
        return KmsProviders.create(KeyringSettings.of(settings, name -> null));
    }

    static Path write(Path file, Map<String, String> settings, String... more) throws Exception {
        StringBuilder b = new StringBuilder();
        for (String line : more) {
            b.append(line).append('\n');
        }
        settings.forEach((k, v) -> b.append(k).append('=').append(v).append('\n'));
        Files.writeString(file, b);
        return file;
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({"local, vault", "vault, pkcs11", "pkcs11, vault"})
    void aTenantMoves_thenItsOldKeyIsDestroyed_andEveryRowOpensThroughTheNewKmsAlone(String from, String to)
            throws Exception {
        PostgresServer.unavailableBecause().ifPresent(why -> {
            if (PostgresServer.required()) {
                throw new IllegalStateException(why);
            }
            org.junit.jupiter.api.Assumptions.abort(why);
        });
        String run = UUID.randomUUID().toString().substring(0, 6);
        String prefix = "migrate-" + run + "-";
        String tenant = "m" + run; // unique: a PKCS#11 token is shared by the JVM's tests
        String other = "o" + run;
        EmbeddedKafkaBroker.shared().createTopic(prefix + "events", 1, Map.of());
        EmbeddedKafkaBroker.shared().createTopic(prefix + "audit", 1, Map.of());
        Map<String, String> source = kms(from);
        Map<String, String> target = kms(to);
        config = write(
                dir.resolve("embedseal.properties"),
                source,
                "bootstrap.servers=" + EmbeddedKafkaBroker.shared().bootstrapServers(),
                "topics.key-events=" + prefix + "events",
                "topics.audit=" + prefix + "audit",
                "topics.sealed=" + prefix + "sealed",
                "topics.raw=" + prefix + "raw",
                "topics.dlq=" + prefix + "dlq");
        ok(cli("tenants", "add", "--tenant", tenant, "--create-key"));
        ok(cli("tenants", "add", "--tenant", other, "--create-key"));

        String table = PostgresServer.freshTable("migrate");
        int rows = 0;
        try (PostgresVectorStore store = KeyRewrapIntegrationTest.sealedStore(table);
                KmsProvider sealing = open(source)) {
            for (int dek = 0; dek < 2; dek++) {
                Sealer sealer = new Sealer(Keyring.of(sealing)); // a new keyring seals under a new DEK
                for (int i = 0; i < 30; i++) {
                    store.upsert(KeyRewrapIntegrationTest.stored(sealer, tenant, "a-" + dek + "-" + i, false));
                    rows++;
                }
                store.upsert(KeyRewrapIntegrationTest.stored(sealer, other, "o-" + dek, false));
            }
            store.flush();
            if (sealing.supportedOperations().contains(KmsOperation.ROTATE)) {
                ok(cli("keys", "rotate", "--tenant", tenant)); // rows under two versions of the old key
                Sealer sealer = new Sealer(Keyring.of(sealing));
                for (int i = 0; i < 20; i++) {
                    store.upsert(KeyRewrapIntegrationTest.stored(sealer, tenant, "b-" + i, false));
                    rows++;
                }
                store.flush();
            }
        }
        Map<String, byte[]> otherBefore = KeyRewrapIntegrationTest.rows(table, other);

        Path targetFile = write(dir.resolve("target-kms.properties"), target);
        Path password = dir.resolve("pg-password");
        Files.writeString(password, PostgresServer.PASSWORD);
        List<String> migrate = new ArrayList<>(List.of(
                "tenants",
                "migrate",
                "--tenant",
                tenant,
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
        assertThat(types(prefix, tenant)).doesNotContain(KeyEventType.MIGRATED);

        CliRun done = ok(cli(migrate.toArray(String[]::new)));
        assertThat(done.out()).contains("MIGRATED published");
        assertThat(types(prefix, tenant)).endsWith(KeyEventType.MIGRATED);
        assertThat(ok(cli("tenants", "show", "--tenant", tenant)).out()).contains(to);

        // The old KMS's key is gone.
        try (KmsProvider old = open(source)) {
            old.destroy("tenant-" + tenant);
        }
        Map<String, byte[]> moved = KeyRewrapIntegrationTest.rows(table, tenant);
        assertThat(moved).hasSize(rows);
        try (KmsProvider reader = open(target)) {
            Sealer throughNew = new Sealer(Keyring.of(reader));
            for (Map.Entry<String, byte[]> row : moved.entrySet()) {
                assertThat(EnvelopeHeader.parse(row.getValue()).kek().provider())
                        .isEqualTo(to);
                assertThat(throughNew
                                .unseal(row.getValue(), tenant, row.getKey())
                                .plaintext())
                        .isNotEmpty();
            }
            Map<String, byte[]> others = KeyRewrapIntegrationTest.rows(table, other);
            assertThat(others).usingRecursiveComparison().isEqualTo(otherBefore);
            for (Map.Entry<String, byte[]> row : others.entrySet()) {
                try {
                    throughNew.unseal(row.getValue(), other, row.getKey());
                    throw new AssertionError("another tenant's row opened through the new KMS");
                } catch (EnvelopeException expected) {
                    assertThat(expected.reason()).isEqualTo(EnvelopeException.Reason.WRONG_BINDING);
                }
            }
        }
        try (KmsProvider old = open(source)) {
            Sealer throughOld = new Sealer(Keyring.of(old));
            for (Map.Entry<String, byte[]> row : otherBefore.entrySet()) {
                assertThat(throughOld
                                .unseal(row.getValue(), other, row.getKey())
                                .plaintext())
                        .as("the other tenant still opens where it always did")
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
