package io.embedseal.sinks;

import io.embedseal.sinks.lucene.LuceneVectorStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.LeafReaderContext;
import org.apache.lucene.util.Bits;
import org.junit.jupiter.api.DisplayName;

@DisplayName("VectorStore contract: Lucene (one HNSW index per tenant)")
class LuceneVectorStoreContractTest extends VectorStoreContract {

    Path root() {
        return tmp.resolve("lucene");
    }

    @Override
    VectorStore open(Path dir) {
        return new LuceneVectorStore(sealed.luceneIndexes(root()), LuceneVectorStore.Options.defaults());
    }

    @Override
    Set<String> storedIds(String tenant) {
        return committedIds(root(), tenant);
    }

    /** Every live document's id in the tenant's committed index. */
    static Set<String> committedIds(Path root, String tenant) {
        Set<String> ids = new HashSet<>();
        try (io.embedseal.sinks.lucene.LuceneIndexes indexes = TestIndexes.open(root)) {
            org.apache.lucene.store.Directory dir = indexes.open(tenant, false);
            if (dir == null || !DirectoryReader.indexExists(dir)) {
                return ids;
            }
            try (DirectoryReader reader = DirectoryReader.open(dir)) {
                for (LeafReaderContext leaf : reader.leaves()) {
                    Bits live = leaf.reader().getLiveDocs();
                    for (int d = 0; d < leaf.reader().maxDoc(); d++) {
                        if (live == null || live.get(d)) {
                            var doc = leaf.reader().storedFields().document(d);
                            if (doc.get(LuceneVectorStore.DELETED) == null) {
                                ids.add(doc.get(LuceneVectorStore.ID));
                            }
                        }
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return ids;
    }

    @Override
    VectorStore openWithoutVersionCheck(Path dir) {
        return new LuceneVectorStore(sealed.luceneIndexes(root()), LuceneVectorStore.Options.defaults(), false);
    }

    @Override
    java.util.Map<String, io.embedseal.serdes.envelope.RecordVersion> storedVersions(String tenant) {
        java.util.Map<String, io.embedseal.serdes.envelope.RecordVersion> out = new java.util.HashMap<>();
        try (io.embedseal.sinks.lucene.LuceneIndexes indexes = TestIndexes.open(root());
                DirectoryReader reader =
                        DirectoryReader.open(java.util.Objects.requireNonNull(indexes.open(tenant, false)))) {
            for (String id : committedIds(root(), tenant)) {
                out.put(id, LuceneVectorStore.committedVersion(reader, id));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    @Override
    long storedCount(String tenant) {
        return TestIndexes.count(root(), tenant);
    }
}
