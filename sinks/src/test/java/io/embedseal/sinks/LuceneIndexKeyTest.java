package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.keyring.kms.KekRef;
import io.embedseal.keyring.kms.KeyDeniedException;
import io.embedseal.keyring.kms.KeyDescription;
import io.embedseal.keyring.kms.Kms;
import io.embedseal.keyring.kms.KmsException;
import io.embedseal.keyring.kms.WrappedDek;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.keyring.tenant.TenantStatus;
import io.embedseal.sinks.lucene.LuceneIndexes;
import io.embedseal.sinks.lucene.LuceneSearch;
import io.embedseal.sinks.lucene.LuceneVectorStore;
import io.embedseal.sinks.lucene.encryption.IndexKeyFile;
import io.embedseal.testkit.Directories;
import io.embedseal.testkit.VectorLeakScanner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The index key is the tenant's: what each key event does to it, and the attacks on the key file, each shown working
 * with the defence out of the way and then refused.
 */
class LuceneIndexKeyTest {

    @TempDir
    Path tmp;

    Sealed sealed;
    Path root;
    CountingKms counting;
    LuceneIndexes indexes;
    LuceneVectorStore store;
    final Random random = new Random(11);
    final Map<String, float[]> vectors = new HashMap<>();

    /** The tenants' KMS, counting calls. */
    static final class CountingKms implements Kms {
        final Kms in;
        final AtomicInteger wraps = new AtomicInteger();
        final AtomicInteger unwraps = new AtomicInteger();

        CountingKms(Kms in) {
            this.in = in;
        }

        @Override
        public String provider() {
            return in.provider();
        }

        @Override
        public WrappedDek wrapDek(String keyName, byte[] dek, byte[] associatedData) {
            wraps.incrementAndGet();
            return in.wrapDek(keyName, dek, associatedData);
        }

        @Override
        public byte[] unwrapDek(KekRef kek, byte[] wrappedDek, byte[] associatedData) {
            unwraps.incrementAndGet();
            return in.unwrapDek(kek, wrappedDek, associatedData);
        }

        @Override
        public KeyDescription describe(String keyName) {
            return in.describe(keyName);
        }
    }

    @BeforeEach
    void setUp() {
        sealed = new Sealed(tmp.resolve("kms"));
        sealed.onboard("acme");
        sealed.onboard("globex");
        root = tmp.resolve("lucene");
        counting = new CountingKms(sealed.kms);
        indexes = LuceneIndexes.encrypted(root, counting, sealed.keyring.naming(), 16 << 20);
        TestIndexes.registerLocal(root, sealed.kmsDir);
        store = new LuceneVectorStore(indexes, LuceneVectorStore.Options.defaults());
        for (String t : List.of("acme", "globex")) {
            for (int i = 0; i < 50; i++) {
                float[] v = Sealed.randomVector(random, 16);
                vectors.put(t + "/e-" + i, v);
                store.upsert(sealed.stored(t, "e-" + i, v, true, i));
            }
        }
        store.commit();
    }

    @AfterEach
    void tearDown() {
        store.close();
        sealed.close();
    }

    static TenantState state(String tenant, TenantStatus status, int version) {
        return new TenantState(tenant, status, "local", "tenant-" + tenant, version, status.name(), Instant.now());
    }

    @Test
    void theIndexKeyIsStoredOnlyWrappedByTheTenantsKek() throws Exception {
        IndexKeyFile.Contents c = IndexKeyFile.read(root.resolve("acme")).orElseThrow();
        assertThat(c.tenant()).isEqualTo("acme");
        assertThat(c.currentEntry().kek()).isEqualTo(new KekRef("local", "tenant-acme", 1));
        // It unwraps only through the tenant's KEK, bound to the tenant and the index-key purpose.
        byte[] id = c.currentEntry().id();
        byte[] wrapped = c.currentEntry().wrapped();
        assertThat(sealed.kms.unwrapDek(c.currentEntry().kek(), wrapped, IndexKeyFile.associatedData("acme", id)))
                .hasSize(32);
        assertThatThrownBy(() -> sealed.kms.unwrapDek(
                        c.currentEntry().kek(), wrapped, IndexKeyFile.associatedData("globex", id)))
                .isInstanceOf(KmsException.class);
        assertThatThrownBy(() -> sealed.kms.unwrapDek(
                        c.currentEntry().kek(),
                        wrapped,
                        io.embedseal.keyring.dek.DekFactory.associatedData(
                                "acme", io.embedseal.keyring.dek.DekId.of(id, 0, 16))))
                .as("an index key is no DEK")
                .isInstanceOf(KmsException.class);
        assertThat(Files.readString(root.resolve("acme").resolve(IndexKeyFile.NAME)))
                .doesNotContain("\"key\"");
    }

    @Test
    void aCopyTakenBeforeTheKeyIsDestroyedCannotBeOpenedAfterwards() throws Exception {
        Path backup = tmp.resolve("backup");
        copy(root.resolve("acme"), backup.resolve("acme"));
        // Control: the copy opens while the KEK exists.
        try (LuceneIndexes copy = LuceneIndexes.encrypted(backup, sealed.kms, sealed.keyring.naming(), 0)) {
            assertThat(LuceneSearch.documentCount(copy, "acme")).isEqualTo(50);
        }
        sealed.kms.destroy("tenant-acme");
        store.tenantChanged(state("acme", TenantStatus.DESTROYED, 1), false);
        store.shred(state("acme", TenantStatus.DESTROYED, 1));
        assertThat(root.resolve("acme")).doesNotExist();
        try (LuceneIndexes copy = LuceneIndexes.encrypted(backup, sealed.kms, sealed.keyring.naming(), 0)) {
            assertThatThrownBy(() -> LuceneSearch.documentCount(copy, "acme")).isInstanceOf(KmsException.class);
        }
        // And nothing in the copy's files is a vector: there is nothing to read without the key.
        VectorLeakScanner scanner = new VectorLeakScanner();
        vectors.forEach((k, v) -> {
            if (k.startsWith("acme/")) {
                scanner.add(v);
            }
        });
        long hits = 0;
        try (Stream<Path> files = Files.walk(backup)) {
            for (Path p : files.filter(Files::isRegularFile).toList()) {
                hits += scanner.scanFile(p);
            }
        }
        assertThat(hits).isZero();
        assertThat(TestIndexes.count(root, "globex")).isEqualTo(50); // the other tenant is untouched
    }

    @Test
    void revokedClosesTheIndexAndDestroysItsKey_restoredReopensThroughTheKms() throws Exception {
        store.upsert(sealed.stored("acme", "late", Sealed.randomVector(random, 16), true, 99));
        assertThat(indexes.keys("acme")).isNotNull();
        assertThat(indexes.cache().size()).isPositive();
        var keys = indexes.keys("acme");

        store.tenantChanged(state("acme", TenantStatus.REVOKED, 1), false);

        assertThat(keys.isDestroyed()).isTrue();
        assertThat(indexes.keys("acme")).isNull();
        assertThat(indexes.keys("globex")).isNotNull(); // another tenant's index stays open
        assertThat(TestIndexes.count(root, "acme")).isEqualTo(51); // what was written before was committed, not lost
        // While the KMS refuses the key, the index does not open, here or in a search.
        sealed.kms.disable("tenant-acme");
        assertThatThrownBy(() -> store.upsert(sealed.stored("acme", "e-1", Sealed.randomVector(random, 16), true, 100)))
                .isInstanceOf(RefusedRecordException.class)
                .hasMessageContaining("index key does not open");
        sealed.kms.enable("tenant-acme");
        store.tenantChanged(state("acme", TenantStatus.ACTIVE, 1), false);
        int unwraps = counting.unwraps.get();
        store.upsert(sealed.stored("acme", "after", Sealed.randomVector(random, 16), true, 101));
        store.commit();
        assertThat(counting.unwraps.get() - unwraps).isEqualTo(1); // the index key, unwrapped again
        assertThat(TestIndexes.count(root, "acme")).isEqualTo(52);
    }

    @Test
    void rotatedRewrapsTheIndexKeyWithOneKmsCall_andRewritesNoFile() throws Exception {
        store.upsert(sealed.stored("acme", "open", Sealed.randomVector(random, 16), true, 100)); // index open
        store.commit();
        Map<String, Long> before = sizes(root.resolve("acme"));
        sealed.kms.rotate("tenant-acme");
        int wraps = counting.wraps.get();
        int unwraps = counting.unwraps.get();

        store.tenantChanged(state("acme", TenantStatus.ACTIVE, 2), true);

        assertThat(counting.wraps.get() - wraps).isEqualTo(1);
        assertThat(counting.unwraps.get() - unwraps).isZero();
        assertThat(IndexKeyFile.read(root.resolve("acme"))
                        .orElseThrow()
                        .currentEntry()
                        .kek()
                        .version())
                .isEqualTo(2);
        Map<String, Long> after = sizes(root.resolve("acme"));
        after.remove(IndexKeyFile.NAME);
        before.remove(IndexKeyFile.NAME);
        assertThat(after).isEqualTo(before);
        // Replaying the same event (a restart reads the topic again) costs nothing.
        store.tenantChanged(state("acme", TenantStatus.ACTIVE, 2), true);
        assertThat(counting.wraps.get() - wraps).isEqualTo(1);
        // The old version can now be retired in the KMS and the index still opens.
        sealed.kms.restrictVersions("tenant-acme", 2);
        assertThat(TestIndexes.count(root, "acme")).isEqualTo(51);
    }

    @Test
    void reencryptionWritesEveryFileUnderAFreshKey() throws Exception {
        store.close(); // the sink stopped: re-encryption holds the index's write lock
        String oldKey = IndexKeyFile.read(root.resolve("acme"))
                .orElseThrow()
                .currentEntry()
                .idHex();
        Map<String, byte[]> oldBytes = contents(root.resolve("acme"));
        try (LuceneIndexes ops = LuceneIndexes.encrypted(root, sealed.kms, sealed.keyring.naming(), 0)) {
            LuceneIndexes.Reencrypted r = ops.reencrypt("acme");
            assertThat(r.filesRewritten()).isPositive();
            assertThat(r.newKey()).isNotEqualTo(oldKey);
        }
        IndexKeyFile.Contents c = IndexKeyFile.read(root.resolve("acme")).orElseThrow();
        assertThat(c.keys()).hasSize(1);
        assertThat(c.currentEntry().idHex()).isNotEqualTo(oldKey);
        Map<String, byte[]> newBytes = contents(root.resolve("acme"));
        newBytes.forEach((name, bytes) -> {
            if (!name.equals(IndexKeyFile.NAME) && !name.equals("write.lock")) {
                assertThat(bytes).as(name).isNotEqualTo(oldBytes.get(name));
            }
        });
        assertThat(TestIndexes.count(root, "acme")).isEqualTo(50);
        assertThat(TestIndexes.search(root, "acme", vectors.get("acme/e-7"), 1, 100)
                        .get(0)
                        .embeddingId())
                .isEqualTo("e-7");
        // The old files, put back (a copy from before), name a key the index no longer holds.
        Path acme = root.resolve("acme");
        String segments = oldBytes.keySet().stream()
                .filter(n -> n.startsWith("segments_"))
                .findFirst()
                .orElseThrow();
        Files.write(acme.resolve(segments), oldBytes.get(segments));
        assertThatThrownBy(() -> TestIndexes.count(root, "acme"))
                .hasMessageContaining("index key tenant acme does not hold");
    }

    @Test
    void reencryptionRefusesWhileTheSinkWrites() {
        try (LuceneIndexes ops = LuceneIndexes.encrypted(root, sealed.kms, sealed.keyring.naming(), 0)) {
            store.upsert(sealed.stored("acme", "writing", Sealed.randomVector(random, 16), true, 100));
            assertThatThrownBy(() -> ops.reencrypt("acme"))
                    .isInstanceOf(org.apache.lucene.store.LockObtainFailedException.class);
        }
    }

    @Test
    void aKeyFileWrappedUnderAnotherKekIsRefused_theKmsAloneWouldAcceptIt() throws Exception {
        // The attacker (who can write the disk and use globex's key, say as globex) plants a key file in acme's index
        // that holds an index key of its choosing, wrapped under globex's KEK with acme's binding; then anything the
        // sink writes for acme is under a key the attacker knows, and anything it plants, the sink would read.
        store.close();
        Path acme = root.resolve("acme");
        Directories.deleteRecursively(acme);
        byte[] chosen = new byte[32];
        byte[] id = new byte[16];
        id[0] = 1;
        WrappedDek w = sealed.kms.wrapDek("tenant-globex", chosen.clone(), IndexKeyFile.associatedData("acme", id));
        IndexKeyFile.write(
                acme, new IndexKeyFile.Contents("acme", id, List.of(new IndexKeyFile.Entry(id, w.kek(), w.wrapped()))));
        // Defence off: the KMS unwraps it, binding and all; it is globex's key that decides, and the attacker may use
        // it.
        assertThat(sealed.kms.unwrapDek(w.kek(), w.wrapped(), IndexKeyFile.associatedData("acme", id)))
                .isEqualTo(chosen);
        // Defence on: acme's index key must be under acme's KEK; nothing is unwrapped, nothing written.
        int unwraps = counting.unwraps.get();
        try (LuceneIndexes fresh = LuceneIndexes.encrypted(root, counting, sealed.keyring.naming(), 0);
                LuceneVectorStore s = new LuceneVectorStore(fresh, LuceneVectorStore.Options.defaults())) {
            assertThatThrownBy(() -> fresh.open("acme", true))
                    .isInstanceOf(KeyDeniedException.class)
                    .hasMessageContaining("not the tenant's key");
            assertThatThrownBy(() -> s.upsert(sealed.stored("acme", "x", Sealed.randomVector(random, 16), true, 1)))
                    .isInstanceOf(RefusedRecordException.class)
                    .hasMessageContaining("index key does not open");
            // Another tenant is not affected.
            s.upsert(sealed.stored("globex", "y", Sealed.randomVector(random, 16), true, 2));
            s.commit();
        }
        assertThat(counting.unwraps.get() - unwraps).isEqualTo(1); // globex's own index key only
        assertThat(acme.resolve("segments_1")).doesNotExist();
    }

    @Test
    void aTamperedIndexRefusesThatTenantOnly() throws Exception {
        store.close();
        Path acme = root.resolve("acme");
        Path segments;
        try (Stream<Path> files = Files.list(acme)) {
            segments = files.filter(p -> p.getFileName().toString().startsWith("segments_"))
                    .findFirst()
                    .orElseThrow();
        }
        byte[] b = Files.readAllBytes(segments);
        b[b.length - 20] ^= 1;
        Files.write(segments, b);
        try (LuceneIndexes fresh = LuceneIndexes.encrypted(root, counting, sealed.keyring.naming(), 0);
                LuceneVectorStore s = new LuceneVectorStore(fresh, LuceneVectorStore.Options.defaults())) {
            // Before: a non-retriable store error that stopped the task, and with it every tenant.
            assertThatThrownBy(() -> s.upsert(sealed.stored("acme", "e-1", Sealed.randomVector(random, 16), true, 200)))
                    .isInstanceOfSatisfying(
                            RefusedRecordException.class,
                            e -> assertThat(e.reason()).isEqualTo(RefusedRecordException.Reason.KEY_FAILED))
                    .hasMessageContaining("cannot be opened");
            int unwraps = counting.unwraps.get();
            assertThatThrownBy(() -> s.upsert(sealed.stored("acme", "e-2", Sealed.randomVector(random, 16), true, 201)))
                    .isInstanceOf(RefusedRecordException.class);
            assertThat(counting.unwraps.get()).isEqualTo(unwraps); // cooling down: the KMS is not asked again
            assertThat(s.upsert(sealed.stored("globex", "e-1", Sealed.randomVector(random, 16), true, 300)))
                    .isTrue();
            s.flush();
            s.commit();
        }
    }

    @Test
    void aPlaintextIndexIsRefusedByAnEncryptedStore_andTheReverse() throws Exception {
        Path plainRoot = tmp.resolve("plain");
        try (LuceneVectorStore plain =
                new LuceneVectorStore(LuceneIndexes.plaintext(plainRoot), LuceneVectorStore.Options.defaults())) {
            plain.upsert(sealed.stored("acme", "p", Sealed.randomVector(random, 16), true, 1));
            plain.commit();
        }
        try (LuceneIndexes enc = LuceneIndexes.encrypted(plainRoot, sealed.kms, sealed.keyring.naming(), 0)) {
            assertThatThrownBy(() -> enc.open("acme", true)).hasMessageContaining("is not encrypted");
        }
        try (LuceneIndexes plain = LuceneIndexes.plaintext(root)) {
            assertThatThrownBy(() -> plain.open("acme", false))
                    .hasMessageContaining("lucene.encryption=none cannot read it");
        }
    }

    private static void copy(Path from, Path to) throws Exception {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path p : files.filter(Files::isRegularFile).toList()) {
                Files.copy(p, to.resolve(p.getFileName()));
            }
        }
    }

    private static Map<String, Long> sizes(Path dir) throws Exception {
        Map<String, Long> out = new HashMap<>();
        contents(dir).forEach((n, b) -> out.put(n, (long) java.util.Arrays.hashCode(b)));
        return out;
    }

    private static Map<String, byte[]> contents(Path dir) throws Exception {
        Map<String, byte[]> out = new HashMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.filter(Files::isRegularFile).toList()) {
                out.put(p.getFileName().toString(), Files.readAllBytes(p));
            }
        }
        return out;
    }
}
