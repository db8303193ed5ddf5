package io.embedseal.app.config;

import io.embedseal.app.http.StatusServerSettings;
import io.embedseal.config.SettingsModel;
import io.embedseal.keyring.KeyringSettings;
import io.embedseal.keyring.kms.KmsProviderRegistry;
import io.embedseal.serdes.avro.ConfluentSchemaRegistryClient;
import io.embedseal.serdes.kafka.SerdeConfigs;
import io.embedseal.serdes.validation.ValidationLimits;
import io.embedseal.sinks.lucene.LuceneSinkConfig;
import io.embedseal.sinks.postgres.PostgresSinkConfig;
import io.embedseal.topology.PipelineConfig;
import java.util.List;
import java.util.Locale;
import org.apache.kafka.common.config.ConfigDef;

/**
 * The settings reference of docs/configuration.md, generated from the configuration model: the pipeline's,
 * the keyring's and every provider's, validation's, the schema-registry client's, the serializers' and the sink
 * connectors' ConfigDefs. {@code ConfigurationReferenceTest} fails when the committed page differs.
 */
public final class ConfigurationReference {

    /** Marks the generated part of docs/configuration.md. */
    public static final String BEGIN = "<!-- generated from the configuration model: do not edit by hand -->";

    public static final String END = "<!-- end of the generated reference -->";

    private ConfigurationReference() {}

    public static String markdown() {
        StringBuilder b = new StringBuilder();
        b.append(BEGIN).append("\n\n");
        section(
                b,
                "Pipeline (`embedseal run --config`)",
                "Also read by the operator commands from the same file.",
                PipelineConfig.PIPELINE);
        section(
                b,
                "Status server (`http.*`)",
                "Read by `embedseal run` from the same file, beside `http.enabled`, `http.bind` and `http.port` above. "
                        + "See operations.md, \"Watching the pipeline\".",
                StatusServerSettings.MODEL);
        section(
                b,
                "Keyring (`kms.*`, `dek.*`)",
                "The pipeline's, the sinks' (as connector settings), the serializers' and the operator commands'. The "
                        + "environment overrides apply where the pipeline or an operator command reads its configuration "
                        + "file; a connector's or a Kafka client's configuration knows none. See key-management.md.",
                KeyringSettings.MODEL);
        section(
                b,
                "KMS providers",
                "Each provider module declares its own; only the one `kms.provider` names is read.",
                KmsProviderRegistry.settings());
        section(
                b,
                "Validation (`validation.*`)",
                "The pipeline's rules, each failure dead-lettered with its reason.",
                ValidationLimits.MODEL);
        section(
                b,
                "Schema registry (`schema.registry.*`)",
                "See schema-registry.md.",
                ConfluentSchemaRegistryClient.MODEL);
        section(
                b,
                "Producers and consumers (`embedseal-client`)",
                "Given in the Kafka client's configuration, beside the keyring's and the schema registry's settings "
                        + "above; a Kafka client's configuration knows no `EMBEDSEAL_*` overrides. See producer-side-sealing.md.",
                SettingsModel.of(
                        "client",
                        SerdeConfigs.MAX_DIMENSIONS,
                        SerdeConfigs.ONLY_TENANT,
                        SerdeConfigs.PURPOSE,
                        SerdeConfigs.ACCEPT_V1,
                        SerdeConfigs.PUBLIC_KEKS_FILE,
                        io.embedseal.serdes.avro.EmbeddingEventSerializer.AUTO_REGISTER,
                        io.embedseal.serdes.avro.EmbeddingEventSerializer.VALUE_SUBJECT_STRATEGY),
                false);
        connector(b, "Lucene sink connector", LuceneSinkConfig.CONFIG_DEF);
        connector(b, "PostgreSQL sink connector", PostgresSinkConfig.CONFIG_DEF);
        b.append(END).append("\n");
        return b.toString();
    }

    private static void section(StringBuilder b, String title, String intro, SettingsModel model) {
        section(b, title, intro, model, true);
    }

    private static void section(StringBuilder b, String title, String intro, SettingsModel model, boolean environment) {
        b.append("### ").append(title).append("\n\n").append(intro).append("\n\n");
        b.append(model.markdown(environment)).append("\n");
    }

    private static void connector(StringBuilder b, String title, ConfigDef def) {
        b.append("### ")
                .append(title)
                .append("\n\n")
                .append(
                        "Connector settings (Kafka Connect's ConfigDef; the keyring's and providers' are included from the model "
                                + "above).\n\n");
        b.append("| setting | type | default | importance | description |\n|---|---|---|---|---|\n");
        List<ConfigDef.ConfigKey> keys = def.configKeys().values().stream()
                .filter(k -> !k.internalConfig)
                .toList();
        for (ConfigDef.ConfigKey k : keys) {
            String dflt = k.hasDefault() && k.defaultValue != null
                    ? "`" + ConfigDef.convertToString(k.defaultValue, k.type) + "`"
                    : "";
            b.append("| `")
                    .append(k.name)
                    .append("` | ")
                    .append(k.type.name().toLowerCase(Locale.ROOT))
                    .append(" | ")
                    .append(dflt)
                    .append(" | ")
                    .append(k.importance.name().toLowerCase(Locale.ROOT))
                    .append(" | ")
                    .append(
                            k.documentation == null
                                    ? ""
                                    : k.documentation
                                            .replace("|", "\\|")
                                            .replace("\n", " ")
                                            .strip())
                    .append(" |\n");
        }
        b.append("\n");
    }
}
