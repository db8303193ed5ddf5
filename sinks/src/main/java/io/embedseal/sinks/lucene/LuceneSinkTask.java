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
    protected VectorStore openStore(EmbedsealSinkConfig config) {
        LuceneSinkConfig c = (LuceneSinkConfig) config;
        return new LuceneVectorStore(
                c.dir(),
                new LuceneVectorStore.Options(
                        c.similarity(), c.maxConn(), c.beamWidth(), c.maxOpenWriters(), c.ramBufferMb()));
    }

    @Override
    protected String sinkName() {
        return "lucene";
    }
}
