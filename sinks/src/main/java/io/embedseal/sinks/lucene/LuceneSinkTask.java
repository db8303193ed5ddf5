package io.embedseal.sinks.lucene;

import io.embedseal.sinks.EmbedsealSinkConfig;
import io.embedseal.sinks.EmbedsealSinkTask;
import io.embedseal.sinks.VectorStore;
import java.util.Map;

/** Unseals each tenant's records through its KMS and indexes the vectors in the tenant's own Lucene HNSW index. */
public final class LuceneSinkTask extends EmbedsealSinkTask {

    @Override
    protected EmbedsealSinkConfig parse(Map<String, String> props) {
        return new LuceneSinkConfig(props);
    }

    @Override
    protected VectorStore openStore(EmbedsealSinkConfig config, io.embedseal.keyring.Keyring keyring) {
        LuceneSinkConfig c = (LuceneSinkConfig) config;
        LuceneIndexes indexes = c.encrypted()
                ? LuceneIndexes.encrypted(c.dir(), keyring.kms(), keyring.naming(), c.cacheBytes())
                : LuceneIndexes.plaintext(c.dir());
        return new LuceneVectorStore(
                indexes,
                new LuceneVectorStore.Options(
                        c.similarity(),
                        c.maxConn(),
                        c.beamWidth(),
                        c.maxOpenWriters(),
                        c.ramBufferMb(),
                        c.indexThreads(),
                        c.commitIntervalMs()),
                true,
                c.blind()
                        ? new io.embedseal.sinks.blind.VectorKeys(
                                keyring.kms(), keyring.naming(), new LuceneVectorKeys(c.dir()), c.blindBeta())
                        : null);
    }

    @Override
    protected String sinkName() {
        return "lucene";
    }
}
