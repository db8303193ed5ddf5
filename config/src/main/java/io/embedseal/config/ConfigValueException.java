package io.embedseal.config;

/**
 * A setting has a value that is missing, malformed or out of range. {@link #setting()} names it, so a caller
 * (a connector reporting to Kafka Connect's validation, a command line pointing at an option) never has to guess the
 * setting from the message text.
 */
public class ConfigValueException extends IllegalArgumentException {

    private final String setting;

    public ConfigValueException(String setting, String message) {
        super(message);
        this.setting = setting;
    }

    public ConfigValueException(String setting, String message, Throwable cause) {
        super(message, cause);
        this.setting = setting;
    }

    /** The setting whose value is wrong. */
    public String setting() {
        return setting;
    }
}
