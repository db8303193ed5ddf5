package io.embedseal.sinks;

import io.embedseal.sinks.blind.VectorKeys;
import io.embedseal.sinks.lucene.LuceneVectorKeys;
import io.embedseal.sinks.lucene.LuceneVectorStore;
import java.nio.file.Path;
import org.junit.jupiter.api.DisplayName;

@DisplayName("VectorStore contract: Lucene in blind mode (DCPE ciphertexts in the HNSW graph, envelopes beside them)")
class LuceneBlindContractTest extends LuceneVectorStoreContractTest {

    VectorKeys keys() {
        return new VectorKeys(sealed.kms, sealed.keyring.naming(), new LuceneVectorKeys(root()), 1.0);
    }

    @Override
    VectorStore open(Path dir) {
        return new LuceneVectorStore(sealed.luceneIndexes(root()), LuceneVectorStore.Options.defaults(), true, keys());
    }

    @Override
    VectorStore openWithoutVersionCheck(Path dir) {
        return new LuceneVectorStore(sealed.luceneIndexes(root()), LuceneVectorStore.Options.defaults(), false, keys());
    }
}
