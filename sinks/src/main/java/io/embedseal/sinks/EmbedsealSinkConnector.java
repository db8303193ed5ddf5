package io.embedseal.sinks;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.config.Config;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.ConfigValue;
import org.apache.kafka.connect.sink.SinkConnector;

/**
 * What the embedseal connectors share: settings checked at start (and by Connect's validate endpoint, with each
 * error on the setting it names), and one task configuration per task with its index.
 */
public abstract class EmbedsealSinkConnector extends SinkConnector {

    @SuppressWarnings("NullAway.Init") // set in start(), which Connect calls before taskConfigs()
    private Map<String, String> props;

    /** Parses and checks the settings; throws {@link ConfigException} naming the setting. */
    protected abstract EmbedsealSinkConfig parse(Map<String, String> props);

    /** How many tasks to run for the {@code tasks.max} given. */
    protected int tasks(int maxTasks) {
        return maxTasks;
    }

    @Override
    public String version() {
        return SinkVersion.get();
    }

    @Override
    public void start(Map<String, String> props) {
        parse(props);
        this.props = Map.copyOf(props);
    }

    @Override
    public List<Map<String, String>> taskConfigs(int maxTasks) {
        List<Map<String, String>> out = new ArrayList<>();
        for (int i = 0; i < tasks(maxTasks); i++) {
            Map<String, String> task = new HashMap<>(props);
            task.put(EmbedsealSinkConfig.TASK_INDEX, Integer.toString(i));
            out.add(task);
        }
        return out;
    }

    @Override
    public void stop() {}

    /**
     * Connect's per-setting checks, then the cross-setting ones (KMS settings, store-specific rules); an error from
     * those is attached to the setting the configuration model names ({@link InvalidSettingException#setting()}), or
     * to {@code kms.provider} when no model names one.
     */
    @Override
    public Config validate(Map<String, String> connectorConfigs) {
        Config config = super.validate(connectorConfigs);
        boolean clean =
                config.configValues().stream().allMatch(v -> v.errorMessages().isEmpty());
        if (clean) {
            try {
                parse(connectorConfigs);
            } catch (ConfigException e) {
                attach(config, e);
            }
        }
        return config;
    }

    private static void attach(Config config, ConfigException e) {
        String setting =
                e instanceof InvalidSettingException named ? named.setting() : EmbedsealSinkConfig.KMS_PROVIDER;
        ConfigValue target = config.configValues().stream()
                .filter(v -> v.name().equals(setting))
                .findFirst()
                .orElseGet(() -> config.configValues().stream()
                        .filter(v -> v.name().equals(EmbedsealSinkConfig.KMS_PROVIDER))
                        .findFirst()
                        .orElse(config.configValues().get(0)));
        target.addErrorMessage(e.getMessage());
    }
}
