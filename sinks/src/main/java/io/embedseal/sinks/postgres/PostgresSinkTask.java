package io.embedseal.sinks.postgres;

import io.embedseal.sinks.EmbedsealSinkConfig;
import io.embedseal.sinks.EmbedsealSinkTask;
import io.embedseal.sinks.VectorStore;
import java.util.Map;

/** Upserts sealed records into PostgreSQL (and, in index mode, their vectors into a pgvector column). */
public final class PostgresSinkTask extends EmbedsealSinkTask {

    @Override
    protected EmbedsealSinkConfig parse(Map<String, String> props) {
        return new PostgresSinkConfig(props);
    }

    @Override
    protected VectorStore openStore(EmbedsealSinkConfig config, io.embedseal.keyring.Keyring keyring) {
        PostgresSinkConfig c = (PostgresSinkConfig) config;
        return PostgresVectorStore.open(c, c.connectorName(), c.taskIndex(), keyring.kms(), keyring.naming());
    }

    @Override
    protected String sinkName() {
        return "postgresql";
    }
}
