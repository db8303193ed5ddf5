package io.embedseal.sinks.postgres;

import io.embedseal.sinks.EmbedsealSinkConfig;
import io.embedseal.sinks.EmbedsealSinkConnector;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.Task;

/**
 * A Kafka Connect sink that stores sealed embeddings in PostgreSQL: envelopes in a {@code bytea} column with
 * non-secret ids (sealed mode), plus pgvector vectors unsealed through each tenant's KMS (index mode). Upserts are
 * keyed by (tenant, embedding id), so redelivery never duplicates; tombstones delete; DESTROYED shreds the tenant.
 */
public final class PostgresSinkConnector extends EmbedsealSinkConnector {

    @Override
    public Class<? extends Task> taskClass() {
        return PostgresSinkTask.class;
    }

    @Override
    public ConfigDef config() {
        return PostgresSinkConfig.CONFIG_DEF;
    }

    @Override
    protected EmbedsealSinkConfig parse(Map<String, String> props) {
        return new PostgresSinkConfig(props);
    }
}
