package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.keyring.kms.WrappedDek;
import io.embedseal.keyring.tenant.TenantState;
import io.embedseal.keyring.tenant.TenantStatus;
import io.embedseal.sinks.blind.Dcpe;
import io.embedseal.sinks.blind.VectorKeys;
import io.embedseal.sinks.blind.WrappedVectorKey;
import io.embedseal.sinks.lucene.LuceneIndexes;
import io.embedseal.sinks.lucene.LuceneSearch;
import io.embedseal.sinks.lucene.LuceneSinkConfig;
import io.embedseal.sinks.lucene.LuceneVectorKeys;
import io.embedseal.sinks.lucene.LuceneVectorStore;
import io.embedseal.sinks.search.SearchHit;
import io.embedseal.sinks.search.SearchRefusedException;
import io.embedseal.sinks.search.TopK;
import io.embedseal.testkit.VectorLeakScanner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.lucene.index.VectorSimilarityFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Lucene sink in blind mode. With {@code lucene.encryption=none} the index files are readable by whoever serves
 * them: blind mode is what keeps the vectors out of them.
 */
@DisplayName("Lucene blind mode: no vector in plain index files, re-ranked search, keys that stay the tenant's")
class LuceneBlindIndexTest {

    @TempDir
    Path tmp;

    Sealed sealed;

    @BeforeEach
    void keys() {
        sealed = new Sealed(tmp.resolve("kms"));
        sealed.onboard("acme");
        sealed.onboard("globex");
    }

    @AfterEach
    void close() {
        sealed.close();
    }

    VectorKeys vectorKeys(Path root) {
        return new VectorKeys(sealed.kms, sealed.keyring.naming(), new LuceneVectorKeys(root), 1.0);
    }

    LuceneVectorStore store(Path root, boolean blind) {
        return new LuceneVectorStore(
                LuceneIndexes.plaintext(root),
                LuceneVectorStore.Options.defaults(),
                true,
                blind ? vectorKeys(root) : null);
    }

    void sink(LuceneVectorStore store, String tenant, List<float[]> vectors) {
        for (int i = 0; i < vectors.size(); i++) {
            store.upsert(sealed.stored(tenant, "e-" + i, vectors.get(i), true, i));
        }
        store.flush();
        store.commit();
    }

    @Test
    void plainFiles_holdNoVector_inBlindMode_andSearchReranksIntoTheExactTopK() throws Exception {
        List<float[]> acme = PgvectorBlindIndexTest.clustered(new Random(1), 400);
        List<float[]> control = PgvectorBlindIndexTest.clustered(new Random(2), 200);
        Path blindRoot = tmp.resolve("blind");
        Path controlRoot = tmp.resolve("index");
        try (LuceneVectorStore blind = store(blindRoot, true);
                LuceneVectorStore index = store(controlRoot, false)) {
            assertThat(blind.blindMode()).isTrue();
            sink(blind, "acme", acme);
            sink(index, "acme", control);
        }
        VectorLeakScanner blindVectors = new VectorLeakScanner();
        acme.forEach(blindVectors::add);
        acme.forEach(v -> blindVectors.add(Dcpe.unit(v)));
        VectorLeakScanner controlVectors = new VectorLeakScanner();
        control.forEach(controlVectors::add);
        assertThat(scan(controlRoot, controlVectors))
                .as("index mode, unencrypted (control)")
                .isPositive();
        assertThat(scan(blindRoot, blindVectors))
                .as("blind mode, unencrypted files")
                .isZero();
        assertThat(blindRoot.resolve("acme").resolve(LuceneVectorKeys.NAME)).exists();

        double recall = 0;
        try (LuceneIndexes indexes = LuceneIndexes.plaintext(blindRoot);
                VectorKeys keys = vectorKeys(blindRoot)) {
            for (int q = 0; q < 20; q++) {
                float[] query = acme.get(q * 19);
                Set<String> truth = PgvectorBlindIndexTest.exactTop(acme, query, 10);
                List<SearchHit> hits = LuceneSearch.blind(
                        indexes, "acme", query, 10, 100, sealed.unsealer, keys, VectorSimilarityFunction.COSINE);
                assertThat(hits).hasSize(10);
                recall += PgvectorBlindIndexTest.overlap(truth, hits) / 10.0;
                assertThat(hits.get(0).model()).isEqualTo("test-32");
            }
        }
        assertThat(recall / 20).as("recall@10 re-ranked from 100 candidates").isGreaterThanOrEqualTo(0.95);
    }

    static long scan(Path root, VectorLeakScanner scanner) throws Exception {
        long hits = 0;
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                hits += scanner.scanFile(f);
            }
        }
        return hits;
    }

    /** As in pgvector: a planted key under another KEK (which the KMS would open) is refused, not used. */
    @Test
    void aVectorKeyPlantedUnderAnotherKek_isRefused() throws Exception {
        Path root = tmp.resolve("planted");
        byte[] id = new byte[16];
        byte[] secret = new byte[32];
        byte[] aad = WrappedVectorKey.associatedData("acme", id, 1.0);
        WrappedDek planted = sealed.kms.wrapDek(sealed.keyring.naming().kekNameFor("globex"), secret.clone(), aad);
        assertThat(sealed.kms.unwrapDek(planted.kek(), planted.wrapped(), aad)).isEqualTo(secret); // defence off
        new LuceneVectorKeys(root).putIfAbsent(new WrappedVectorKey("acme", id, 1.0, planted.kek(), planted.wrapped()));
        try (LuceneVectorStore blind = store(root, true)) {
            assertThatThrownBy(() -> blind.upsert(sealed.stored("acme", "e-1", new float[] {1, 2, 3}, true, 1)))
                    .isInstanceOf(RefusedRecordException.class)
                    .hasMessageContaining("not the tenant's key");
        }
    }

    /**
     * A tenant index written in index mode holds plaintext vectors; switching the sink to blind mode would leave them
     * there beside the ciphertexts. The files do hold them (what the switch would keep), and blind mode refuses the
     * tenant's records, naming the setting, rather than carry on over them.
     */
    @Test
    void blindMode_overAnIndexModeIndex_refusesTheTenantsRecords() throws Exception {
        Path root = tmp.resolve("switch");
        List<float[]> vectors = PgvectorBlindIndexTest.clustered(new Random(4), 20);
        try (LuceneVectorStore index = store(root, false)) {
            sink(index, "acme", vectors);
        }
        VectorLeakScanner scanner = new VectorLeakScanner();
        vectors.forEach(scanner::add);
        assertThat(scan(root, scanner))
                .as("index mode's plaintext in the files")
                .isPositive();
        try (LuceneVectorStore blind = store(root, true)) {
            assertThatThrownBy(() -> blind.upsert(sealed.stored("acme", "new", vectors.get(0), true, 99)))
                    .isInstanceOf(RefusedRecordException.class)
                    .hasMessageContaining("lucene.mode=blind")
                    .hasMessageContaining("plaintext vectors");
            // another tenant, with no index-mode index, goes on
            assertThat(blind.upsert(sealed.stored("globex", "g", vectors.get(1), true, 100)))
                    .isTrue();
        }
    }

    @Test
    void theFirstKeyStored_staysTheTenantsKey() {
        Path root = tmp.resolve("race");
        LuceneVectorKeys storage = new LuceneVectorKeys(root);
        WrappedDek a = sealed.kms.wrapDek(sealed.keyring.naming().kekNameFor("acme"), new byte[32], new byte[0]);
        WrappedVectorKey first = new WrappedVectorKey("acme", new byte[16], 1.0, a.kek(), a.wrapped());
        byte[] otherId = new byte[16];
        otherId[0] = 1;
        WrappedVectorKey second = new WrappedVectorKey("acme", otherId, 1.0, a.kek(), a.wrapped());
        assertThat(storage.putIfAbsent(first)).isEqualTo(first);
        assertThat(storage.putIfAbsent(second)).isEqualTo(first);
        assertThat(storage.read("acme")).contains(first);
    }

    @Test
    void revocationRefusesTheSearch_destructionDeletesTheIndexAndTheKey() throws Exception {
        Path root = tmp.resolve("lifecycle");
        List<float[]> vectors = PgvectorBlindIndexTest.clustered(new Random(3), 30);
        String kek = sealed.keyring.naming().kekNameFor("acme");
        try (LuceneVectorStore blind = store(root, true)) {
            sink(blind, "acme", vectors);
            blind.tenantChanged(state(TenantStatus.REVOKED), false);
            sealed.kms.disable(kek);
            sealed.keyring.evict("acme");
            try (LuceneIndexes indexes = LuceneIndexes.plaintext(root);
                    VectorKeys keys = vectorKeys(root)) {
                assertThatThrownBy(() -> LuceneSearch.blind(
                                indexes,
                                "acme",
                                vectors.get(0),
                                5,
                                20,
                                sealed.unsealer,
                                keys,
                                VectorSimilarityFunction.COSINE))
                        .isInstanceOf(SearchRefusedException.class);
            }
            sealed.kms.enable(kek);
            blind.tenantChanged(state(TenantStatus.DESTROYED), false);
            blind.shred(state(TenantStatus.DESTROYED));
        }
        assertThat(root.resolve("acme")).doesNotExist();
    }

    @Test
    void blindMode_refusesSimilaritiesItCannotServe_namingTheSetting() {
        Map<String, String> s = new java.util.HashMap<>();
        s.put("embedseal.bootstrap.servers", "127.0.0.1:9");
        s.put(LuceneSinkConfig.DIR, tmp.toString());
        s.put(LuceneSinkConfig.MODE, "blind");
        s.put(LuceneSinkConfig.SIMILARITY, "dot_product");
        assertThatThrownBy(() -> new LuceneSinkConfig(s)).hasMessageContaining(LuceneSinkConfig.SIMILARITY);
        s.put(LuceneSinkConfig.SIMILARITY, "euclidean");
        assertThat(new LuceneSinkConfig(s).blind()).isTrue();
    }

    TenantState state(TenantStatus status) {
        return new TenantState(
                "acme", status, "local", sealed.keyring.naming().kekNameFor("acme"), 1, status.name(), Instant.now());
    }

    static Set<String> ids(TopK top) {
        Set<String> ids = new HashSet<>();
        top.result().forEach(h -> ids.add(h.embeddingId()));
        return ids;
    }
}
