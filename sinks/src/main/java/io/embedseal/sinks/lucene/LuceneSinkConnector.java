package io.embedseal.sinks.lucene;

import io.embedseal.sinks.EmbedsealSinkConfig;
import io.embedseal.sinks.EmbedsealSinkConnector;
import java.util.Map;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.connect.connector.Task;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Kafka Connect sink that keeps one Lucene HNSW index per tenant, written from sealed records it unseals through
 * each tenant's KMS. A Lucene index has one writer, so the connector runs one task whatever {@code tasks.max} says;
 * scale out by giving several connectors their own directories and topics.
 */
public final class LuceneSinkConnector extends EmbedsealSinkConnector {

    private static final Logger LOG = LoggerFactory.getLogger(LuceneSinkConnector.class);

    @Override
    public Class<? extends Task> taskClass() {
        return LuceneSinkTask.class;
    }

    @Override
    public ConfigDef config() {
        return LuceneSinkConfig.CONFIG_DEF;
    }

    @Override
    protected EmbedsealSinkConfig parse(Map<String, String> props) {
        return new LuceneSinkConfig(props);
    }

    @Override
    protected int tasks(int maxTasks) {
        if (maxTasks > 1) {
            LOG.info("tasks.max={} but a Lucene index directory has a single writer: running 1 task", maxTasks);
        }
        return 1;
    }
}
