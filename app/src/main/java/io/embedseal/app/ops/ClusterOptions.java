package io.embedseal.app.ops;

import io.embedseal.app.KmsOptions;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.topology.PipelineConfig;
import io.embedseal.topology.TopicNames;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.CommonClientConfigs;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * Where an operator command finds the cluster, the topics and the tenants' KMS: the pipeline's own
 * configuration file ({@code --config}, with {@code EMBEDSEAL_*} overrides), or {@code --bootstrap-servers} with
 * the default topic names and {@code --kms}/{@code --kms-setting}.
 */
public final class ClusterOptions {

    @Option(
            names = "--config",
            paramLabel = "FILE",
            description = "The pipeline's configuration file (bootstrap.servers, "
                    + "topic names, application.id, kms.*): the CLI acts on exactly what the pipeline uses.")
    Path config;

    @Option(
            names = "--bootstrap-servers",
            paramLabel = "HOSTS",
            description = "The Kafka cluster, when no --config is given " + "(default topic names).")
    String bootstrapServers;

    @CommandLine.Mixin
    KmsOptions kmsOptions = new KmsOptions();

    /** What the options resolve to. */
    /**
     * @param registrySettings the schema registry client's settings ({@code schema.registry.*}); empty without {@code --config}
     */
    public record Cluster(
            Map<String, Object> clientProps,
            TopicNames topics,
            KeyringSettings keyringSettings,
            String applicationId,
            Map<String, Object> registrySettings) {}

    /**
     * What the options give, where the cluster may be left out: then {@code clientProps} is empty and the
     * keyring settings come from {@code --kms}/{@code --kms-setting} (commands that can work without Kafka).
     *
     * @throws IllegalArgumentException naming the option or setting that is wrong
     */
    public Cluster resolveOptionalCluster() {
        if (config == null && bootstrapServers == null) {
            return new Cluster(
                    Map.of(), TopicNames.defaults(), KeyringSettings.of(kmsOptions.settings()), "embedseal", Map.of());
        }
        return resolve();
    }

    /**
     * @throws IllegalArgumentException naming the option or setting that is missing or wrong
     */
    public Cluster resolve() {
        if (config != null) {
            if (bootstrapServers != null || kmsOptions.given()) {
                throw new IllegalArgumentException(
                        "give either --config or --bootstrap-servers/--kms/--kms-setting, not both");
            }
            PipelineConfig pc = PipelineConfig.load(config, System::getenv);
            Map<String, Object> clients = new HashMap<>(pc.clientOverrides());
            clients.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, pc.bootstrapServers());
            return new Cluster(clients, pc.topics(), pc.keyringSettings(), pc.applicationId(), pc.registrySettings());
        }
        if (bootstrapServers == null) {
            throw new IllegalArgumentException(
                    "give --config <the pipeline's configuration file> or --bootstrap-servers");
        }
        Map<String, Object> clients = new HashMap<>();
        clients.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        return new Cluster(
                clients, TopicNames.defaults(), KeyringSettings.of(kmsOptions.settings()), "embedseal", Map.of());
    }
}
