package io.embedseal.sinks;

import io.embedseal.config.ConfigValueException;
import org.apache.kafka.common.config.ConfigException;

/**
 * Kafka's {@link ConfigException} that also says which setting is wrong, so Connect's validation attaches the
 * error to that setting without reading the message.
 */
public final class InvalidSettingException extends ConfigException {

    private final String setting;

    public InvalidSettingException(String setting, Object value, String message) {
        super(setting, value, message);
        this.setting = setting;
    }

    private InvalidSettingException(ConfigValueException cause) {
        super(cause.getMessage());
        this.setting = cause.setting();
        initCause(cause);
    }

    /** The setting the configuration model found wrong, keeping the cause. */
    public static InvalidSettingException of(ConfigValueException e) {
        return new InvalidSettingException(e);
    }

    /** The setting that is wrong. */
    public String setting() {
        return setting;
    }
}
