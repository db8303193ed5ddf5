package io.embedseal.app.ops;

import static org.assertj.core.api.Assertions.assertThat;

import io.embedseal.app.CliRun;
import io.embedseal.app.TestPipelineConfig;
import io.embedseal.keyring.Keyring;
import io.embedseal.keyring.kms.local.LocalKms;
import io.embedseal.schemas.EmbeddingEvent;
import io.embedseal.serdes.SealedRecordKey;
import io.embedseal.serdes.avro.EmbeddingEventCodec;
import io.embedseal.serdes.envelope.EnvelopeException;
import io.embedseal.serdes.envelope.EnvelopeHeader;
import io.embedseal.serdes.envelope.PayloadType;
import io.embedseal.serdes.envelope.RecordVersion;
import io.embedseal.serdes.envelope.Sealer;
import io.embedseal.sinks.StoredRecord;
import io.embedseal.sinks.postgres.PostgresSinkConfig;
import io.embedseal.sinks.postgres.PostgresVectorStore;
import io.embedseal.testkit.EmbeddedKafkaBroker;
import io.embedseal.testkit.PostgresServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rotation runbook of docs/key-lifecycle.md, as written, against the real CLI, a real broker, the local KMS and a
 * real PostgreSQL server: rotate; restrict without re-wrapping (every row stops opening: why the re-wrap exists);
 * rewrap, stopped halfway as a crash would, then run again to finish, then once more with nothing to do; restrict;
 * every row of the tenant opens, its ciphertexts untouched, and another tenant's rows are not touched at all.
 */
class KeyRewrapIntegrationTest {

    @TempDir
    static Path dir;

    static String prefix;
    static Path config;
    static Path kmsDir;

    static CliRun cli(String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.add("--config");
        all.add(config.toString());
        all.add("--actor");
        all.add("rewrap-test");
        return CliRun.run(all.toArray(String[]::new));
    }

    static CliRun ok(CliRun r) {
        assertThat(r.code()).as(r.out() + r.err()).isZero();
        return r;
    }

    @BeforeAll
    static void cluster() throws Exception {
        PostgresServer.unavailableBecause().ifPresent(why -> {
            if (PostgresServer.required()) {
                throw new IllegalStateException(why);
            }
            org.junit.jupiter.api.Assumptions.abort(why);
        });
        prefix = "rewrap-" + UUID.randomUUID().toString().substring(0, 6) + "-";
        String bootstrap = EmbeddedKafkaBroker.shared().bootstrapServers();
        config = TestPipelineConfig.write(dir, bootstrap, prefix);
        kmsDir = dir.resolve("kms");
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        try (Admin admin = Admin.create(p)) {
            admin.createTopics(List.of(
                            new NewTopic(prefix + "events", 1, (short) 1),
                            new NewTopic(prefix + "audit", 1, (short) 1),
                            new NewTopic(prefix + "sealed", 1, (short) 1)))
                    .all()
                    .get();
        }
    }

    static StoredRecord stored(Sealer sealer, String tenant, String id, boolean version1) {
        EmbeddingEvent e = EmbeddingEvent.newBuilder()
                .setTenantId(tenant)
                .setEmbeddingId(id)
                .setModel("m")
                .setVector(List.of(0.5f, -1f, 2f, (float) id.length()))
                .setMetadata(null)
                .setEventTime(Instant.ofEpochMilli(1_764_000_000_000L))
                .build();
        byte[] plaintext = EmbeddingEventCodec.toCanonicalAvro(e);
        byte[] envelope = version1
                ? sealer.sealVersion1(tenant, id, PayloadType.EMBEDDING_EVENT_AVRO, plaintext)
                : sealer.seal(tenant, id, RecordVersion.now(), PayloadType.EMBEDDING_EVENT_AVRO, plaintext);
        return new StoredRecord(
                new SealedRecordKey(tenant, id), EnvelopeHeader.parse(envelope), envelope, null, "sealed", 0, 0);
    }

    /** The PostgreSQL sink's store in sealed mode, on a table of its own. */
    static PostgresVectorStore sealedStore(String table) {
        Map<String, String> s = new HashMap<>();
        s.put("name", "rows-test");
        s.put("embedseal.bootstrap.servers", "127.0.0.1:9");
        s.put(PostgresSinkConfig.URL, PostgresServer.URL);
        s.put(PostgresSinkConfig.USER, PostgresServer.USER);
        s.put(PostgresSinkConfig.PASSWORD, PostgresServer.PASSWORD);
        s.put(PostgresSinkConfig.TABLE, table);
        s.put(PostgresSinkConfig.MODE, "sealed");
        return PostgresVectorStore.open(new PostgresSinkConfig(s), "rows-test", 0);
    }

    static Map<String, byte[]> rows(String table, String tenant) throws SQLException {
        Map<String, byte[]> out = new LinkedHashMap<>();
        try (Connection c = PostgresServer.connect();
                PreparedStatement ps = c.prepareStatement(
                        "SELECT embedding_id, envelope FROM " + table + " WHERE tenant = ? ORDER BY embedding_id")) {
            ps.setString(1, tenant);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.put(rs.getString(1), rs.getBytes(2));
                }
            }
        }
        return out;
    }

    /** How many of the tenant's rows open with a fresh reader on the KMS as it is now. */
    static int opening(String table, String tenant) throws SQLException {
        Sealer reader = new Sealer(Keyring.of(new LocalKms(kmsDir)));
        int n = 0;
        for (Map.Entry<String, byte[]> row : rows(table, tenant).entrySet()) {
            try {
                reader.unseal(row.getValue(), tenant, row.getKey());
                n++;
            } catch (EnvelopeException e) {
                assertThat(e.reason()).isIn(EnvelopeException.Reason.KEY_REVOKED);
            }
        }
        return n;
    }

    static byte[] ciphertext(byte[] envelope) {
        EnvelopeHeader h = EnvelopeHeader.parse(envelope);
        return java.util.Arrays.copyOfRange(envelope, h.ciphertextOffset(), envelope.length);
    }

    @Test
    void rotate_rewrapAfterACrash_restrict_everyRowStillOpens_andNoOtherTenantsRowIsTouched() throws Exception {
        ok(cli("tenants", "add", "--tenant", "acme", "--create-key"));
        ok(cli("tenants", "add", "--tenant", "other", "--create-key"));
        String table = PostgresServer.freshTable("rewrap");
        try (PostgresVectorStore store = sealedStore(table)) {
            for (int dek = 0; dek < 3; dek++) { // a new keyring seals under a new DEK: three DEKs, 40 rows each
                Sealer sealer = new Sealer(Keyring.of(new LocalKms(kmsDir)));
                for (int i = 0; i < 40; i++) {
                    store.upsert(stored(sealer, "acme", "d" + dek + "-" + i, false));
                }
                store.upsert(stored(sealer, "other", "o" + dek, false));
            }
            store.upsert(stored(new Sealer(Keyring.of(new LocalKms(kmsDir))), "acme", "legacy-v1", true));
            store.flush();
        }
        Map<String, byte[]> before = rows(table, "acme");
        Map<String, byte[]> otherBefore = rows(table, "other");
        assertThat(before).hasSize(121);
        assertThat(opening(table, "acme")).isEqualTo(121);

        ok(cli("keys", "rotate", "--tenant", "acme"));

        // Without the re-wrap, retiring the old version makes every row unreadable.
        assertThat(cli("keys", "restrict", "--tenant", "acme", "--min-version", "2")
                        .code())
                .isZero();
        assertThat(opening(table, "acme")).isZero();
        assertThat(cli("keys", "restrict", "--tenant", "acme", "--min-version", "1")
                        .code())
                .isZero();

        Path password = dir.resolve("pg-password");
        Files.writeString(password, PostgresServer.PASSWORD);
        List<String> rewrap = List.of(
                "keys",
                "rewrap",
                "--tenant",
                "acme",
                "--postgres-url",
                PostgresServer.URL,
                "--postgres-user",
                PostgresServer.USER,
                "--postgres-password-file",
                password.toString(),
                "--postgres-table",
                table,
                "--batch-size",
                "25");
        List<String> crashing = new ArrayList<>(rewrap);
        crashing.addAll(List.of("--stop-after-rows", "50"));
        CliRun partial = cli(crashing.toArray(String[]::new));
        assertThat(partial.code()).as(partial.err()).isZero();
        long moved = rows(table, "acme").values().stream()
                .filter(e -> EnvelopeHeader.parse(e).kek().version() == 2)
                .count();
        assertThat(moved)
                .as("the first run stopped partway (after the batch that passed 50 rows)")
                .isBetween(50L, 80L);

        CliRun finish = cli(rewrap.toArray(String[]::new));
        System.out.println(
                "keys rewrap (resumed):\n" + finish.err() + finish.out()); // what docs/key-lifecycle.md shows
        assertThat(finish.code()).as(finish.err()).isZero();
        assertThat(finish.out())
                .contains((120 - moved) + " of " + (121 - moved) + " rows rewritten")
                .contains("1 version-1 rows left");
        CliRun again = cli(rewrap.toArray(String[]::new));
        assertThat(again.out()).contains("0 of 1 rows rewritten").contains("1 version-1 rows left");
        assertThat(finish.err()).contains("rewrap acme [");

        assertThat(cli("keys", "restrict", "--tenant", "acme", "--min-version", "2")
                        .code())
                .isZero();
        assertThat(opening(table, "acme"))
                .as("every version-2 row opens under version 2 alone; the version-1 row cannot move")
                .isEqualTo(120);
        Map<String, byte[]> after = rows(table, "acme");
        Map<String, java.util.Set<String>> formsPerDek = new HashMap<>();
        for (byte[] e : after.values()) {
            EnvelopeHeader h = EnvelopeHeader.parse(e);
            formsPerDek
                    .computeIfAbsent(h.dekId().toString(), k -> new java.util.HashSet<>())
                    .add(java.util.HexFormat.of().formatHex(h.wrappedDek()));
        }
        assertThat(formsPerDek.values())
                .as("the resumed run reused the slot the interrupted one wrote: one wrapped form per DEK")
                .allSatisfy(forms -> assertThat(forms).hasSize(1));
        for (Map.Entry<String, byte[]> row : after.entrySet()) {
            if (row.getKey().equals("legacy-v1")) {
                assertThat(row.getValue()).isEqualTo(before.get("legacy-v1"));
                continue;
            }
            assertThat(EnvelopeHeader.parse(row.getValue()).kek().version()).isEqualTo(2);
            assertThat(ciphertext(row.getValue()))
                    .as("no record was decrypted or re-encrypted")
                    .isEqualTo(ciphertext(before.get(row.getKey())));
        }
        assertThat(rows(table, "other")).usingRecursiveComparison().isEqualTo(otherBefore);
    }

    /**
     * A tenant with a key pair: its stored DEKs are re-wrapped with the public key its ROTATED pinned (the KMS never
     * wraps under a key pair; before, every row failed), and open under the new version alone.
     */
    @Test
    void rewrap_ofAPublicKeyTenant_wrapsWithThePinnedKey() throws Exception {
        ok(cli("tenants", "add", "--tenant", "initech", "--create-key", "--kek-kind", "public-key"));
        LocalKms kms = new LocalKms(kmsDir);
        String table = PostgresServer.freshTable("rewrap_pk");
        io.embedseal.keyring.KekResolver pinnedV1 = io.embedseal.keyring.PinnedPublicKeks.resolver(
                io.embedseal.keyring.KekNaming.defaults(),
                Map.of("initech", java.util.Objects.requireNonNull(kms.publicKek("tenant-initech", 1))));
        try (PostgresVectorStore store = sealedStore(table)) {
            Sealer sealer = new Sealer(Keyring.builder(kms).naming(pinnedV1).build());
            for (int i = 0; i < 10; i++) {
                store.upsert(stored(sealer, "initech", "p" + i, false));
            }
            store.flush();
        }
        ok(cli("keys", "rotate", "--tenant", "initech"));
        Path password = dir.resolve("pg-password-pk");
        Files.writeString(password, PostgresServer.PASSWORD);
        CliRun rewrap = ok(cli(
                "keys",
                "rewrap",
                "--tenant",
                "initech",
                "--postgres-url",
                PostgresServer.URL,
                "--postgres-user",
                PostgresServer.USER,
                "--postgres-password-file",
                password.toString(),
                "--postgres-table",
                table));
        assertThat(rewrap.out()).contains("10 of 10 rows rewritten");
        assertThat(rows(table, "initech").values())
                .allSatisfy(
                        e -> assertThat(EnvelopeHeader.parse(e).kek().version()).isEqualTo(2))
                .allSatisfy(e -> assertThat(io.embedseal.keyring.kms.PublicKek.isPublicKeyWrap(
                                EnvelopeHeader.parse(e).wrappedDek()))
                        .isTrue());
        ok(cli("keys", "restrict", "--tenant", "initech", "--min-version", "2"));
        assertThat(opening(table, "initech")).isEqualTo(10);
    }

    /**
     * Blind mode's vector key moves with the rows: restricting the old version without a re-wrap leaves it unopenable
     * (the control); {@code keys rewrap} re-wraps it under the new version, and it opens under that alone.
     */
    @Test
    void rewrap_movesBlindModesVectorKey_too() throws Exception {
        io.embedseal.testkit.PgliteServer db = io.embedseal.app.TestPglite.server();
        ok(cli("tenants", "add", "--tenant", "blindco", "--create-key"));
        String table = PostgresServer.freshTable("rewrapblind");
        LocalKms kms = new LocalKms(kmsDir);
        Keyring keyring = Keyring.of(kms);
        Map<String, String> s = new HashMap<>();
        s.put("embedseal.bootstrap.servers", "127.0.0.1:9");
        s.put(PostgresSinkConfig.URL, db.url());
        s.put(PostgresSinkConfig.USER, io.embedseal.testkit.PgliteServer.USER);
        s.put(PostgresSinkConfig.TABLE, table);
        s.put(PostgresSinkConfig.MODE, "blind");
        s.put(PostgresSinkConfig.VECTOR_DIMENSIONS, "4");
        io.embedseal.serdes.EmbeddingUnsealer unsealer =
                new io.embedseal.serdes.EmbeddingUnsealer(new Sealer(keyring), null);
        try (PostgresVectorStore store =
                PostgresVectorStore.open(new PostgresSinkConfig(s), "blind-rewrap", 0, kms, keyring.naming())) {
            Sealer sealer = new Sealer(keyring);
            for (int i = 0; i < 5; i++) {
                StoredRecord r = stored(sealer, "blindco", "b" + i, false);
                store.upsert(new StoredRecord(
                        r.key(),
                        r.header(),
                        r.envelope(),
                        unsealer.unseal(r.key().toBytes(), r.envelope()),
                        "sealed",
                        0,
                        i));
            }
            store.flush();
        }
        java.util.function.Supplier<Boolean> opens = () -> {
            try (Connection c = db.connect();
                    io.embedseal.sinks.blind.VectorKeys keys = new io.embedseal.sinks.blind.VectorKeys(
                            new LocalKms(kmsDir),
                            keyring.naming(),
                            new io.embedseal.sinks.postgres.PostgresVectorKeys(() -> c, table),
                            1.0)) {
                return keys.get("blindco", false).isPresent();
            } catch (io.embedseal.keyring.kms.KmsException e) {
                return false;
            } catch (SQLException e) {
                throw new IllegalStateException(e);
            }
        };
        assertThat(opens.get()).isTrue();
        ok(cli("keys", "rotate", "--tenant", "blindco"));
        ok(cli("keys", "restrict", "--tenant", "blindco", "--min-version", "2"));
        assertThat(opens.get())
                .as("restricted without a re-wrap: the vector key is lost")
                .isFalse();
        ok(cli("keys", "restrict", "--tenant", "blindco", "--min-version", "1"));
        CliRun rewrap = ok(cli(
                "keys",
                "rewrap",
                "--tenant",
                "blindco",
                "--postgres-url",
                db.url(),
                "--postgres-user",
                io.embedseal.testkit.PgliteServer.USER,
                "--postgres-table",
                table));
        assertThat(rewrap.err()).contains("vector key is under local:tenant-blindco:2");
        ok(cli("keys", "restrict", "--tenant", "blindco", "--min-version", "2"));
        assertThat(opens.get()).as("re-wrapped: opens under version 2 alone").isTrue();
    }
}
