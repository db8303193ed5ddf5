package io.embedseal.sinks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.embedseal.sinks.lucene.LuceneVectorStore;
import io.embedseal.sinks.search.SearchHit;
import io.embedseal.sinks.search.SearchRefusedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LuceneIndexTest {

    @TempDir
    Path tmp;

    Sealed sealed;
    LuceneVectorStore store;
    Path root;
    final Random random = new Random(7);

    @BeforeEach
    void setUp() {
        sealed = new Sealed(tmp.resolve("kms"));
        sealed.onboard("acme");
        root = tmp.resolve("lucene");
        store = new LuceneVectorStore(sealed.luceneIndexes(root), LuceneVectorStore.Options.defaults());
    }

    @AfterEach
    void tearDown() {
        store.close();
        sealed.close();
    }

    @Test
    void vectorsWiderThanLucenesDefaultLimit_areIndexedAndFound() {
        float[] wide = Sealed.randomVector(random, 1536);
        float[] widest = Sealed.randomVector(random, 3072);
        store.upsert(sealed.stored("acme", "openai-small", wide, true, 1));
        store.upsert(sealed.stored("acme", "openai-large", widest, true, 2));
        store.upsert(sealed.stored("acme", "other-small", Sealed.randomVector(random, 1536), true, 3));
        store.commit();

        List<SearchHit> hits = TestIndexes.search(root, "acme", wide, 2, 10);
        assertThat(hits).extracting(SearchHit::embeddingId).containsExactly("openai-small", "other-small");
        assertThat(hits.get(0).score()).isGreaterThan(0.99f);
        assertThat(TestIndexes.search(root, "acme", widest, 1, 10))
                .extracting(SearchHit::embeddingId)
                .containsExactly("openai-large");
    }

    @Test
    void queryOfAnotherDimension_isRefusedNamingTheDimensionsPresent() {
        store.upsert(sealed.stored("acme", "e-1", Sealed.randomVector(random, 384), true, 1));
        store.commit();
        assertThatThrownBy(() -> TestIndexes.search(root, "acme", new float[] {1, 2, 3}, 10, 100))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no vectors of 3 dimensions")
                .hasMessageContaining("[384]");
    }

    @Test
    void tenantWithoutIndex_isAClearError_notAnEmptyResult() {
        assertThatThrownBy(() -> TestIndexes.search(root, "nobody", new float[] {1, 2, 3}, 10, 100))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tenant nobody has no index");
    }

    @Test
    void shreddedTenant_isRefused_andItsFilesAreGone() {
        for (int i = 0; i < 20; i++) {
            store.upsert(sealed.stored("acme", "e-" + i, Sealed.randomVector(random, 16), true, i));
        }
        store.commit();
        assertThat(TestIndexes.count(root, "acme")).isEqualTo(20);

        ShredRecord shred = store.shred(VectorStoreContract.destroyed("acme"));
        assertThat(shred.deleted()).containsEntry("documents", 20L);
        assertThat(shred.deleted().get("files")).isPositive();
        assertThat(Files.exists(LuceneVectorStore.tenantDir(root, "acme"))).isFalse();
        assertThatThrownBy(() -> TestIndexes.search(root, "acme", Sealed.randomVector(random, 16), 10, 100))
                .isInstanceOfSatisfying(SearchRefusedException.class, e -> {
                    assertThat(e.status()).isEqualTo("DESTROYED");
                    assertThat(e.getMessage()).contains("destroyed").contains("documents=20");
                });
    }

    @Test
    void uncommittedWrites_areNotVisible_andAreDroppedOnClose() {
        store.upsert(sealed.stored("acme", "committed", Sealed.randomVector(random, 16), true, 1));
        store.commit();
        store.upsert(sealed.stored("acme", "uncommitted", Sealed.randomVector(random, 16), true, 2));
        store.close(); // a stop after Connect's last offset commit: this record is redelivered, not kept
        assertThat(LuceneVectorStoreContractTest.committedIds(root, "acme")).containsExactly("committed");
        store = new LuceneVectorStore(sealed.luceneIndexes(root), LuceneVectorStore.Options.defaults());
    }

    @Test
    void moreTenantsThanOpenWriters_areAllCommitted() {
        store.close();
        store = new LuceneVectorStore(
                sealed.luceneIndexes(root),
                new LuceneVectorStore.Options(
                        org.apache.lucene.index.VectorSimilarityFunction.COSINE, 16, 100, 2, 16.0));
        for (int t = 0; t < 5; t++) {
            sealed.onboard("t" + t);
            store.upsert(sealed.stored("t" + t, "e", Sealed.randomVector(random, 16), true, t));
        }
        store.commit();
        for (int t = 0; t < 5; t++) {
            assertThat(TestIndexes.count(root, "t" + t)).as("tenant t" + t).isEqualTo(1);
        }
    }
}
